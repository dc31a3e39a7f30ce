#!/usr/bin/env bash
# Retrains every bundled model end to end: export-dataset (the server's own feature code) → train.py (PyTorch) →
# ONNX + manifest + parity vectors in models/. Extra arguments go to export-dataset, for example:
#   models/train/retrain.sh                                    # simulated markets (what the bundled models use)
#   models/train/retrain.sh --input ~/klines/                  # real candles: Binance kline CSVs or .jsonl
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3   # Debian's python3-torch installs for the system Python, not a pyenv one on PATH
if ! "$PY" -c 'import torch, onnx, numpy' 2>/dev/null; then
  echo "installing python3-torch python3-onnx python3-numpy (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq python3-torch python3-onnx python3-numpy
fi
mkdir -p "$ROOT/models/data"
dotnet run --project "$ROOT/src/Tools" -c Release -- export-dataset --out "$ROOT/models/data/dataset.csv" "$@"
"$PY" "$ROOT/models/train/train.py" --data "$ROOT/models/data/dataset.csv" --out "$ROOT/models" ${TRAIN_ARGS:-}
echo "models retrained; commit each models/*.manifest.json with the graph and .parity.json it names (not the recurrent"
echo "LSTMs' LSTM-operator <name>-<version>.onnx and .pt: models/train/README.md)"
