# Shared by scripts/test-sdk.sh and scripts/test-dashboard.sh (sourced, not run): installs what the TypeScript
# checks need, builds the server once, and counts results into the 'N passed, N failed' line test.sh reads.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
SDK="$ROOT/clients/typescript"
passed=0
failed=0
failures=()

say() { printf '\n--- %s\n' "$*"; }
ok() { passed=$((passed + 1)); echo "PASS $*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL $*"; }

apt_install() {
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  say "installing $* (apt)"
  "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/tmp/signalstream-sdk-apt.log 2>&1 \
    || { tail -20 /tmp/signalstream-sdk-apt.log; echo "apt-get install $* failed"; return 1; }
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm || return 1
  echo "node $(node --version), npm $(npm --version 2>/dev/null)"
}

ensure_npm_packages() {
  say "npm packages (clients/typescript)"
  # npm ci: exactly the committed lock (it records every platform's optional esbuild/rollup package), never rewriting it.
  (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error) 2>&1 \
    | grep -v 'Unknown user config' | tail -5
  [ -d "$SDK/node_modules/vitest" ]
}

# Builds src/Hub (Release, as test.sh does; a no-op when it is up to date) and exports SIGNALSTREAM_HUB_DLL.
ensure_server_build() {
  if [ -n "${SIGNALSTREAM_HUB_DLL:-}" ] && [ -f "$SIGNALSTREAM_HUB_DLL" ]; then return 0; fi
  command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required to start the server (dotnet not on PATH)"; return 1; }
  say "dotnet build src/Hub -c Release"
  dotnet build "$ROOT/src/Hub" -c Release -nologo -v q 2>&1 | grep -E ' error |Warn|Error' | head -20
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  export SIGNALSTREAM_HUB_DLL="$ROOT/src/Hub/bin/Release/net10.0/SignalStream.Hub.dll"
  [ -f "$SIGNALSTREAM_HUB_DLL" ]
}

# Runs a vitest suite and adds its per-test counts; a suite that fails without a count counts as one failure.
run_vitest() { # name, dir
  local name=$1 dir=$2 report
  report=$(mktemp)
  say "$name"
  (cd "$SDK" && npx vitest run --dir "$dir" --reporter=default --reporter=json --outputFile.json="$report") 2>&1 | grep -v 'Unknown user config'
  local code=${PIPESTATUS[0]}
  local counts
  counts=$(node -e 'try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.numPassedTests, r.numFailedTests || (r.numFailedTestSuites > 0 ? 1 : 0)); } catch { console.log("0 0"); }' "$report")
  rm -f "$report"
  local p=${counts% *} f=${counts#* }
  if [ "$code" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; echo "$name ran no test"; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" = 0 ] || failures+=("$name")
  echo "$name: $p passed, $f failed"
}

finish() {
  echo
  [ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
