#!/usr/bin/env bash
# Seconds from a node's process start to /health/live, /health/ready and its first /api/performance answer, on a
# history stored by `readmodel generate` (BENCHMARKS.md, "Performance statistics"). Run from the repository root
# (the node finds ./models) with SIGNALSTREAM_TEST_POSTGRES set (scripts/test-services.sh).
#   node-ready.sh <SignalStream.Hub.dll> <postgres|marten> <schema> [more node switches, e.g. --Node:Roles=hub]
set -euo pipefail
dll=$1; provider=$2; schema=$3; shift 3
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
data=$(mktemp -d)
start=$(date +%s.%N)
dotnet "$dll" --urls="http://127.0.0.1:$port" --Ingest:Source=simulated --Storage:Provider="$provider" \
  --ConnectionStrings:Postgres="$SIGNALSTREAM_TEST_POSTGRES" --Storage:Postgres:Schema="$schema" --Storage:Marten:Schema="$schema" \
  --Storage:File:Path="$data" --Logging:LogLevel:Default=Warning "$@" >"$data/node.log" 2>&1 &
pid=$!
since() { echo "$(date +%s.%N) - $start" | bc; }
# The node's CPU seconds so far (user + system, from /proc: wall time on a shared box says little).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ split($0, a, ") "); split(a[2], f, " "); printf "%.1f", (f[12] + f[13]) / hz }' "/proc/$pid/stat"; }
live=""; ready=""; performance=""
for _ in $(seq 36000); do
  kill -0 "$pid" 2>/dev/null || { echo "the node exited:"; cat "$data/node.log"; exit 1; }
  [ -n "$live" ] || ! curl -sf -o /dev/null "http://127.0.0.1:$port/health/live" || live=$(since)
  [ -n "$ready" ] || ! curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready" || { ready=$(since); readycpu=$(cpu); }
  [ -n "$performance" ] || ! curl -sf -o /dev/null "http://127.0.0.1:$port/api/performance" || performance=$(since)
  [ -n "$ready" ] && [ -n "$performance" ] && break
  # A node that has no report (a hub-only node off Marten) answers 503: give up 10 s after ready.
  [ -n "$ready" ] && [ "$(echo "$(since) - $ready > 10" | bc)" = 1 ] && break
  sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/performance")
kill -TERM "$pid"; wait "$pid" || true
rm -rf "$data"
echo "node-ready $provider $schema $*: live ${live}s, ready ${ready}s (node CPU ${readycpu}s), first /api/performance ${performance:-never}s (now $code)"
