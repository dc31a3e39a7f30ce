#!/usr/bin/env bash
# The official @microsoft/signalr JavaScript client against a real hub node: installs the client with npm, starts the
# server from its built DLL (role hub, fed through Redis by the test script itself), runs tests/js-client/test.mjs,
# stops everything it started. Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

fail() { echo "$*"; echo "0 passed, 1 failed"; exit 1; }

if ! command -v npm >/dev/null; then
  echo "installing nodejs and npm"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq nodejs npm >/dev/null \
    || fail "could not install nodejs/npm"
fi

stop_services=0
if [ -z "${SIGNALSTREAM_TEST_REDIS:-}" ]; then
  eval "$(scripts/test-services.sh start)" || fail "could not start test services"
  stop_services=1
fi

work=$(mktemp -d /tmp/signalstream-js.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ "$stop_services" = 1 ] && scripts/test-services.sh stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

echo "npm ci (tests/js-client)"
(cd tests/js-client && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"

dll=src/Hub/bin/Release/net10.0/SignalStream.Hub.dll
if [ ! -f "$dll" ]; then
  echo "building src/Hub (Release)"
  dotnet build src/Hub -c Release -nologo -v q >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; fail "build failed"; }
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
prefix="js$$"
echo "starting the hub node on 127.0.0.1:$port (Redis $SIGNALSTREAM_TEST_REDIS)"
dotnet "$dll" --urls "http://127.0.0.1:$port" --Node:Roles=hub --ConnectionStrings:Redis="$SIGNALSTREAM_TEST_REDIS" \
  --Hub:RedisChannelPrefix="$prefix" --Storage:File:Path="$work/data" --Logging:LogLevel:Default=Warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "the server exited"; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/health/live" >/dev/null || { cat "$work/server.log"; fail "the server did not become live"; }

HUB_URL="http://127.0.0.1:$port" HUB_CHANNEL_PREFIX="$prefix" node tests/js-client/test.mjs
code=$?
[ "$code" = 0 ] || { echo "--- server log ---"; tail -40 "$work/server.log"; }
exit $code
