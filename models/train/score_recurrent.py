#!/usr/bin/python3
"""Scores a recurrent model's serving-step graph (recurrent.py's `-step.onnx`) by replaying serving over every stream:
row by row, T = 1, the two chains' state carried in and out of the graph and rolled over as the engine would
(recurrent.py's docstring). Scored on the windowed models' holdout rows (score_onnx.py's draw, or --all), beside
windowed models scored by score_onnx.py on the same rows; --ensemble also scores each LSTM beside a PatchTST under the
default signal rules. --checkpoint also checks that the replay equals PyTorch's chains (training's formulation).

The replay starts every stream at the old-chain anchor of its first holdout row, so every holdout prediction comes
from a full old chain (the rows before it are training rows; the windowed models read them too).

Usage: /usr/bin/python3 models/train/score_recurrent.py [--all] [--chain 32] [--ensemble PATCHTST.onnx]
           [--checkpoint MODEL.pt] [--windowed MODEL.onnx ...] STEP.onnx
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recurrent  # noqa: E402  (beside this file)
import score_onnx  # noqa: E402
import train  # noqa: E402


def replay(model, x, stream, bars, starts, length):
    """Probabilities for every row from starts[s] to the end of stream s, served one row at a time."""
    width = model.graph.input[1].type.tensor_type.shape.dim[1].dim_value           # 4H
    hidden = width // 4
    ends = np.r_[np.flatnonzero(stream[1:] != stream[:-1]) + 1, len(stream)]
    ends = np.array([ends[np.searchsorted(ends, s, side="right")] for s in starts])
    out = np.full((len(stream), 3), np.nan, dtype=np.float32)
    state = np.zeros((len(starts), width), dtype=np.float32)
    chain = np.full(len(starts), np.iinfo(np.int64).min // 2)
    for t in range(int((ends - starts).max())):
        rows = np.minimum(starts + t, ends - 1)
        live = starts + t < ends
        j = bars[rows] // length
        # rollover: by one, the young chain becomes the old one and a new young one starts; by more, both restart
        by_one = live & (j == chain + 1)
        state[by_one, :2 * hidden] = state[by_one, 2 * hidden:]
        state[by_one, 2 * hidden:] = 0
        state[live & (j > chain + 1)] = 0
        chain = np.where(live, j, chain)
        with torch.no_grad():
            p, s = score_onnx.run(model, {"features": np.ascontiguousarray(x[rows][:, None, :]), "state": state},
                                  ["probabilities", "state_out"])
        state = np.where(live[:, None], s, state).astype(np.float32)
        out[rows[live]] = p[live]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "data", "dataset.csv"))
    parser.add_argument("--all", action="store_true", help="every holdout row, not train.py's 40,000")
    parser.add_argument("--chain", type=int, default=32)
    parser.add_argument("--ensemble", metavar="PATCHTST.onnx")
    parser.add_argument("--checkpoint", metavar="MODEL.pt", help="recurrent.py's saved model: compare the replay with it")
    parser.add_argument("--windowed", nargs="*", default=[], help="windowed models to score on the same rows")
    parser.add_argument("step")
    args = parser.parse_args()
    with open(args.data + ".meta.json") as f:
        horizon = json.load(f)["horizon"]
    names, stream, x, y = train.load(args.data)
    bars = recurrent.bar_indexes(args.data, stream)
    holdout = train.window_ends(stream, 32, horizon, 0.2)[2]
    scored = score_onnx.scored_rows(stream, horizon, args.all)
    labels = y[scored]
    print(f"{len(scored)} holdout rows, majority class {np.bincount(labels, minlength=3).max() / len(labels):.4f}", flush=True)

    model = onnx.load(args.step)
    features = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    checkpoint = torch.load(args.checkpoint) if args.checkpoint else None
    columns = [names.index(n) for n in checkpoint["features"]] if checkpoint else list(range(len(names)))
    if len(columns) != features:
        parser.error(f"{args.step} reads {features} features: pass --checkpoint so the columns are known")
    xs = np.ascontiguousarray(x[:, columns])
    # each stream from the old-chain anchor of its first holdout row (the row at that bar, or the first after it)
    starts = []
    for s in np.unique(stream[holdout]):
        rows = np.flatnonzero(stream == s)
        k = bars[holdout[stream[holdout] == s].min()]
        starts.append(rows[0] + np.searchsorted(bars[rows], args.chain * (k // args.chain - 1)))
    starts = np.array(starts)
    t0 = time.time()
    p_all = replay(model, xs, stream, bars, starts, args.chain)
    p = p_all[scored]
    assert not np.isnan(p).any()
    print(f"replayed {int((~np.isnan(p_all[:, 0])).sum())} rows in {time.time() - t0:.0f} s", flush=True)
    score_onnx.report(os.path.basename(args.step) + " (served, T = 1)", p, labels)
    if checkpoint:
        torch_model = recurrent.RecurrentDirection(checkpoint["mean"], checkpoint["std"], features, checkpoint["hidden"], 1)
        torch_model.load_state_dict(checkpoint["state"])
        chains = recurrent.Chains(stream, bars, checkpoint["chain"])
        kept, p_torch = recurrent.predict_rows(torch_model, xs, chains, scored)
        assert len(kept) == len(scored)
        print(f"  the replay against PyTorch's chains: largest difference {np.abs(p_torch - p).max():.2e}", flush=True)

    partner = None
    if args.ensemble:
        inputs = np.ascontiguousarray(train.windows(x, scored, 32, slice(None)))
        partner = score_onnx.run_batched(onnx.load(args.ensemble), inputs)
        score_onnx.report(os.path.basename(args.ensemble), partner, labels)
        share, right = score_onnx.signals(p, partner, labels)
        print(f"  {os.path.basename(args.step)} with it: a signal on {share:.4f} of rows, its direction right {right:.3f}", flush=True)
    for path in args.windowed:
        windowed = onnx.load(path)
        window, width = [d.dim_value for d in windowed.graph.input[0].type.tensor_type.shape.dim[1:]]
        subset = slice(None) if width == len(names) else [names.index(n) for n in train.SHADOW_FEATURES]
        inputs = np.ascontiguousarray(train.windows(x, scored, window, subset))
        q = score_onnx.run_batched(windowed, inputs)
        score_onnx.report(os.path.basename(path), q, labels)
        if partner is not None:
            share, right = score_onnx.signals(q, partner, labels)
            print(f"  {os.path.basename(path)} with it: a signal on {share:.4f} of rows, its direction right {right:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
