#!/usr/bin/env bash
# CI smoke of the load harness (load-tests/README.md): the harness's own logic (--self-check: the capacity sweep's
# rules, no server), a small steady run, a reconnect storm and a two-step capacity sweep against a real SignalStream hub
# node fed through Redis, two small closing bells through a whole node (fake exchange, bundled models, store, hub), and a small steady run against the ASP.NET Core SignalR peer (load-tests/peer-signalr) so the
# peer cannot rot. Asserts correctness only — every signal delivered, no seq gap, no duplicate, no client lost — never
# timings. Bounded (the harness stops itself after --max-minutes); kills what it
# starts. Ends with 'N passed, N failed'; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if ! command -v redis-server >/dev/null; then
  echo "installing redis-server"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >/tmp/signalstream-load-apt.log 2>&1 \
    || { tail -20 /tmp/signalstream-load-apt.log; echo "0 passed, 1 failed"; exit 1; }
fi

echo "--- building src/Hub (Release), the SignalR peer and the harness"
if ! dotnet build src/Hub -c Release -nologo -v q >/tmp/signalstream-load-build.log 2>&1 \
   || ! dotnet build load-tests/peer-signalr -c Release -nologo -v q >>/tmp/signalstream-load-build.log 2>&1 \
   || ! dotnet build load-tests/SignalStream.LoadTests -c Release -nologo -v q >>/tmp/signalstream-load-build.log 2>&1; then
  grep -E ' error ' /tmp/signalstream-load-build.log | sort -u | head -20
  echo "0 passed, 1 failed"
  exit 1
fi

OUT=$(mktemp -d /tmp/signalstream-load-smoke.XXXXXX)
HARNESS="$ROOT/load-tests/SignalStream.LoadTests/bin/Release/net10.0/SignalStream.LoadTests.dll"
HUB_DLL="$ROOT/src/Hub/bin/Release/net10.0/SignalStream.Hub.dll"
codes=()
echo "--- harness self-check (sweep rules, ladder validation, latency window, capacity line, peer ledgers)"
timeout 30 dotnet "$HARNESS" --self-check 2>&1 | tee "$OUT/self-check.txt"
codes+=("${PIPESTATUS[0]}")

echo "--- load smoke (steady + reconnect storm, correctness only) -> $OUT"
timeout 150 dotnet "$HARNESS" \
  --smoke --scenarios steady,reconnect --targets signalstream --clients 150 --symbols 10 --symbols-per-client 2 \
  --rate 100 --duration 6 --sources 2 --max-minutes 2 --out "$OUT" \
  --hub-dll "$HUB_DLL" 2>&1 | tee "$OUT/console.txt"
codes+=("${PIPESTATUS[0]}")

# Every step of a sweep (warm-up included) must deliver everything once and in order; its capacity is not asserted.
echo "--- capacity sweep smoke (two steps, correctness only) -> $OUT/sweep"
timeout 90 dotnet "$HARNESS" \
  --smoke --scenarios sweep --targets signalstream --clients 150 --symbols 10 --sweep-rates 50,100 --sweep-refine 0 --sweep-confirm 0 \
  --duration 3 --sources 2 --max-minutes 1.5 --out "$OUT/sweep" \
  --hub-dll "$HUB_DLL" 2>&1 | tee "$OUT/sweep-console.txt"
codes+=("${PIPESTATUS[0]}")

# The closing bell end to end (the fake exchange's WebSocket, the bundled models, the store, the hub), twice in one
# run: every closed candle to each subscriber once, every signal without a gap or a duplicate; latency not asserted.
echo "--- closing bell smoke (20 symbols x 4 timeframes, two bells, correctness only) -> $OUT/bell"
timeout 120 dotnet "$HARNESS" \
  --smoke --scenarios bell --targets signalstream --bell-symbols 20 --bell-repeats 2 --sources 2 --max-minutes 1.5 --out "$OUT/bell" \
  --hub-dll "$HUB_DLL" 2>&1 | tee "$OUT/bell-console.txt"
codes+=("${PIPESTATUS[0]}")

# The peer keeps no history, so only a run without drops can be exact for it: steady, not the reconnect storm (where its
# clients' missed signals are gaps by design).
echo "--- SignalR peer smoke (steady, correctness only) -> $OUT/signalr"
timeout 90 dotnet "$HARNESS" \
  --smoke --scenarios steady --targets signalr --clients 150 --symbols 10 --symbols-per-client 2 \
  --rate 100 --duration 4 --sources 2 --max-minutes 1.5 --out "$OUT/signalr" 2>&1 | tee "$OUT/signalr-console.txt"
codes+=("${PIPESTATUS[0]}")

logs=("$OUT/self-check.txt" "$OUT/console.txt" "$OUT/sweep-console.txt" "$OUT/bell-console.txt" "$OUT/signalr-console.txt")
passed=$(cat "${logs[@]}" | grep -c '^PASS ')
failed=$(cat "${logs[@]}" | grep -c '^FAIL ')
for code in "${codes[@]}"; do
  if [ "$code" != 0 ] && [ "$failed" = 0 ]; then
    failed=1
    echo "the harness exited with code $code (see $OUT)"
  fi
done
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then
  failed=1
  echo "the harness ran no scenario"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
