#!/usr/bin/env bash
# Regenerates the feature parity fixtures: candles from the simulator (via export-dataset --candles-out) plus the
# hand-made edge case, and the independent Python reference's features for each. Run from anywhere.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIXTURES=$ROOT/tests/SignalStream.Engine.Tests/Features/Fixtures
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$FIXTURES"
dotnet run --project "$ROOT/src/Tools" -- export-dataset --symbols BTCUSDT,XRPUSDT --timeframes 1m,1h --candles 400 --seed 7 \
  --candles-out "$TMP" --out "$TMP/dataset.csv"
cp "$TMP/BTCUSDT-1m-export.csv" "$TMP/XRPUSDT-1h-export.csv" "$FIXTURES/"
/usr/bin/python3 "$ROOT/models/train/reference_features.py" --edge-candles "$FIXTURES/EDGEUSDT-1m-handmade.csv"
for candles in "$FIXTURES"/*.csv; do
  /usr/bin/python3 "$ROOT/models/train/reference_features.py" "$candles" > "${candles%.csv}.features"
done
echo "fixtures written to $FIXTURES"
