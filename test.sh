#!/usr/bin/env bash
# Runs every test suite on a fresh Debian machine (as root) or a developer box:
#   1. installs what is missing (apt: PostgreSQL, Redis, Prometheus/promtool, Chromium, docker-compose, aiosmtpd; npm
#      packages),
#   2. checks that the C# files are formatted as .editorconfig says (dotnet format, offline),
#   3. starts a private PostgreSQL and Redis on free loopback ports,
#   4. builds once (analyzers and code style are errors) and runs every .NET test project, the TypeScript SDK tests
#      and the config checks,
#   5. stops what it started, prints one summary line, and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export SIGNALSTREAM_REQUIRE_SERVICES=1   # integration tests fail (never skip) when a service is missing

step() { printf '\n=== %s ===\n' "$*"; }

# --- 1. what the tests need -------------------------------------------------------------------------------------
need_apt=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v npm >/dev/null || need_apt+=(nodejs npm)
[ -d /usr/lib/python3/dist-packages/aiosmtpd ] || need_apt+=(python3-aiosmtpd)   # the email sink's SMTP server
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/tmp/signalstream-apt.log 2>&1 \
    || { tail -20 /tmp/signalstream-apt.log; echo "apt-get install ${need_apt[*]} failed"; exit 1; }
fi
command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required (dotnet not on PATH)"; exit 1; }

passed=0; failed=0; suites_failed=(); failed_tests=()
record() { # name, passed, failed, exit code
  passed=$((passed + $2)); failed=$((failed + $3))
  if [ "$4" != 0 ] || [ "$3" != 0 ]; then suites_failed+=("$1"); fi
}

# --- 2. formatting ----------------------------------------------------------------------------------------------
# Whitespace and layout of every .cs file, as .editorconfig sets them. --folder reads the files without loading the
# projects: no restore, no network, seconds. (Code style and analyzers are checked by the build, as errors.)
step "dotnet format --verify-no-changes"
if dotnet format whitespace --folder --verify-no-changes -v q .; then
  record format 1 0 0
else
  echo "the files above are not formatted as .editorconfig says: run 'dotnet format whitespace --folder .' (or 'dotnet format'), then commit"
  record format 0 1 1
fi

# --- 3. services ------------------------------------------------------------------------------------------------
step "starting private PostgreSQL and Redis"
services=$(scripts/test-services.sh start) || { echo "could not start test services"; exit 1; }
eval "$services"
cleanup() { scripts/test-services.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
echo "PostgreSQL on 127.0.0.1:$SIGNALSTREAM_TEST_POSTGRES_PORT, Redis on $SIGNALSTREAM_TEST_REDIS"

# --- 4. .NET ----------------------------------------------------------------------------------------------------
step "dotnet build"
# PIPESTATUS right after the pipeline: the build's own status (inside an if, it would be the if's).
dotnet build SignalStream.sln -c Release -nologo -v q 2>&1 | tail -30
built=${PIPESTATUS[0]}
if [ "$built" != 0 ]; then echo "build failed (a warning is an error: see above)"; record build 0 1 1; fi

if [ "$built" = 0 ]; then
  for proj in tests/*.Tests/*.csproj; do
    name=$(basename "$proj" .csproj)
    step "$name"
    log=$(mktemp)
    dotnet test "$proj" -c Release --no-build --nologo --logger "console;verbosity=normal" \
      --blame-hang-timeout 5m 2>&1 | tee "$log" | grep -E '^\s+(Failed [A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z0-9_]+ \[|Passed: |Failed: )|^Total tests' | head -100
    code=${PIPESTATUS[0]}
    # VSTest's closing block: 'Total tests: N', '     Passed: N', '     Failed: N'.
    p=$(grep -E '^\s+Passed: [0-9]+$' "$log" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -E '^\s+Failed: [0-9]+$' "$log" | tail -1 | grep -oE '[0-9]+')
    [[ "$p" =~ ^[0-9]+$ ]] || p=0; [[ "$f" =~ ^[0-9]+$ ]] || f=0
    if [ "$code" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    if [ "$f" != 0 ]; then
      # The first lines of each failure (server logs captured by a test can follow; they are cut here).
      grep -A8 -E '^\s+Error Message:' "$log" | grep -v -E 'Failed to invoke hub method|^\s+(info|warn|dbug|fail):' | head -60
      # Kept for the summary: CI shows the end of the output, and the name of what failed must be in it.
      while IFS= read -r t; do failed_tests+=("$name: $t"); done < <(grep -oE '^\s+Failed [A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z0-9_]+' "$log" | sed -E 's/^\s+Failed //' | sort -u | head -20)
      while IFS= read -r m; do failed_tests+=("    $m"); done < <(grep -A2 -E '^\s+Error Message:' "$log" | grep -v -E 'Error Message:|^--$' | sed -E 's/^\s+//' | cut -c1-200 | head -6)
    fi
    echo "$name: $p passed, $f failed"
    record "$name" "$p" "$f" "$code"
    rm -f "$log"
  done
fi

# --- 5. TypeScript SDK, dashboard, deployment checks --------------------------------------------------------------
for script in scripts/test-*.sh; do
  case "$script" in scripts/test-services.sh) continue ;; esac
  [ -f "$script" ] || continue
  name=$(basename "$script" .sh)
  step "$name"
  log=$(mktemp)
  bash "$script" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  # Each script ends with a plain 'N passed, N failed' line.
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(cut -d' ' -f1 <<<"$line"); f=$(cut -d' ' -f3 <<<"$line")
  [[ "$p" =~ ^[0-9]+$ ]] || p=0; [[ "$f" =~ ^[0-9]+$ ]] || f=0
  if [ "$code" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  record "$name" "$p" "$f" "$code"
  rm -f "$log"
done

step "summary"
[ ${#suites_failed[@]} -gt 0 ] && echo "failing suites: ${suites_failed[*]}"
[ ${#failed_tests[@]} -gt 0 ] && printf '%s\n' "failed tests:" "${failed_tests[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#suites_failed[@]} = 0 ]
