#!/usr/bin/python3
"""Scores exported models on the holdout train.py scores them on, so a bundled model and a trial (or an older version)
are compared on the same windows (docs/models.md, "Measured: lstm-direction 1.3.0").

The windows are train.py's: its split of a 32-step model, and its seed-42 draw of 40,000 of them (--all: every holdout
window). A model with a shorter window reads the last rows of the same windows: train.py cuts every stream at the same
row whatever the window, so they are after all of its training windows too.

The graph runs in a small interpreter over torch (the ops train.py's graphs use): Debian's python3-onnx has no
reference evaluator and there is no ONNX Runtime for Python here. 1.2.1 scores exactly its manifest's metrics with it.

Usage: /usr/bin/python3 models/train/score_onnx.py [--data models/data/dataset.csv] [--all] [--ensemble PATCHTST.onnx] MODEL.onnx...
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402  (beside this file)


def run(model, x, outputs=None):
    """Runs `model` on `x` (its one input, or a dict of named inputs); returns its first output, or the named ones."""
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    for name, value in (x.items() if isinstance(x, dict) else [(model.graph.input[0].name, x)]):
        env[name] = torch.from_numpy(value)
    for n in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Constant":
            r = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        elif op == "Reshape":
            # ONNX's 0 keeps that dimension of the input (allowzero=0, what the exporter writes)
            r = i[0].reshape([int(i[0].shape[k]) if int(v) == 0 else int(v) for k, v in enumerate(i[1])])
        elif op == "Shape":
            r = torch.tensor(list(i[0].shape), dtype=torch.int64)
        elif op == "Unsqueeze":
            r = i[0]
            for axis in sorted(int(v) for v in i[1]):
                r = r.unsqueeze(axis)
        elif op == "Slice":
            r = i[0]
            axes = [int(v) for v in i[3]] if len(i) > 3 else list(range(len(i[1])))
            for start, end, axis in zip(i[1], i[2], axes):
                r = r.narrow(axis, int(start), min(int(end), r.shape[axis]) - int(start))
        elif op == "Transpose":
            r = i[0].permute(*a["perm"])
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "LayerNormalization":
            r = torch.nn.functional.layer_norm(i[0], i[0].shape[-1:], i[1], i[2], a.get("epsilon", 1e-5))
        elif op == "Div" and not i[0].is_floating_point():
            r = torch.div(i[0], i[1], rounding_mode="trunc")   # ONNX divides integers (shape arithmetic) as integers
        elif op in ("Sub", "Div", "Mul", "Add"):
            r = {"Sub": torch.sub, "Div": torch.div, "Mul": torch.mul, "Add": torch.add}[op](i[0], i[1])
        elif op == "Clip":
            r = torch.clamp(i[0], float(i[1]), float(i[2]))
        elif op == "Gather":
            axis = a.get("axis", 0)
            r = torch.index_select(i[0], axis, i[1].reshape(-1).long() % i[0].shape[axis])
            r = r.squeeze(axis) if i[1].dim() == 0 else r
        elif op == "Concat":
            r = torch.cat(i, dim=a["axis"])
        elif op == "Gemm":
            left = i[0].T if a.get("transA", 0) else i[0]
            right = i[1].T if a.get("transB", 0) else i[1]
            r = a.get("alpha", 1.0) * (left @ right)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op in ("Sigmoid", "Tanh", "Erf"):
            r = {"Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Erf": torch.erf}[op](i[0])
        elif op == "Split":
            r = torch.split(i[0], [int(v) for v in i[1]], dim=a.get("axis", 0))
        elif op == "Softmax":
            r = torch.softmax(i[0], dim=a.get("axis", -1))
        else:
            raise NotImplementedError(f"{op} (this interpreter knows the ops of train.py's graphs)")
        for name, value in zip(n.output, r if isinstance(r, tuple) else (r,)):
            env[name] = value
    if outputs:
        return [env[name].numpy() for name in outputs]
    return env[model.graph.output[0].name].numpy()


def signals(lstm, patchtst, labels, weights=(0.6, 0.4), margin=0.15, score=0.65):
    """The Signals defaults (docs/signals.md; EnsembleVoting): the weighted vote's larger side of P(up) and P(down) at
    least `score` and ahead of the other by `margin`, and each family's own argmax on that side (a tie is flat)."""
    vote = weights[0] * lstm + weights[1] * patchtst
    side = np.where(vote[:, 2] >= vote[:, 0], 2, 0)
    best = np.maximum(vote[:, 2], vote[:, 0])
    passes = (np.abs(vote[:, 2] - vote[:, 0]) >= margin) & (vote[:, 2] != vote[:, 0]) & (best >= score)

    def argmax(p):   # ties go to flat (1), as Probabilities3.Argmax
        up = (p[:, 2] > p[:, 0]) & (p[:, 2] > p[:, 1])
        down = (p[:, 0] > p[:, 2]) & (p[:, 0] > p[:, 1])
        return np.where(up, 2, np.where(down, 0, 1))

    chosen = passes & (argmax(lstm) == side) & (argmax(patchtst) == side)
    return float(chosen.mean()), float((side[chosen] == labels[chosen]).mean()) if chosen.any() else 0.0


def scored_rows(stream, horizon, all_rows):
    """The holdout rows a manifest's metrics come from: train.py's seed-42 draw of 40,000 (its fit and validation draws,
    in its order and with its defaults, move the generator first), or every holdout row."""
    fit, validation, holdout = train.window_ends(stream, 32, horizon, 0.2)
    if all_rows:
        return holdout
    rng = np.random.default_rng(42)
    rng.choice(fit, min(len(fit), 400_000), replace=False)
    rng.choice(validation, min(len(validation), 20_000), replace=False)
    return np.sort(rng.choice(holdout, min(len(holdout), 40_000), replace=False))


def run_batched(model, inputs, batch=4096):
    """run() over `inputs` in batches (the whole holdout at once would need gigabytes of intermediate tensors)."""
    with torch.no_grad():
        return np.concatenate([run(model, inputs[k:k + batch]) for k in range(0, len(inputs), batch)])


def report(name, p, labels):
    """Accuracy, Brier, NLL, and how often P(up) or P(down) clears the default 0.65 and is then right."""
    accuracy, brier, _ = train.evaluate(p, labels)
    nll = float(-np.log(p[np.arange(len(labels)), labels] + 1e-7).mean())
    confident = np.maximum(p[:, 0], p[:, 2]) >= 0.65
    direction = np.where(p[:, 2] > p[:, 0], 2, 0)
    right = float((direction[confident] == labels[confident]).mean()) if confident.any() else 0.0
    print(f"{name}: accuracy {accuracy:.4f}, Brier {brier:.4f}, NLL {nll:.4f}, "
          f"P(up|down) >= 0.65 on {confident.mean():.4f}, right {right:.3f} of those", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "data", "dataset.csv"))
    parser.add_argument("--all", action="store_true", help="every holdout window, not train.py's 40,000")
    parser.add_argument("--ensemble", metavar="PATCHTST.onnx",
                        help="also score each model as the live LSTM beside this PatchTST under the default signal rules")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    with open(args.data + ".meta.json") as f:
        horizon = json.load(f)["horizon"]
    names, stream, x, y = train.load(args.data)
    holdout = scored_rows(stream, horizon, args.all)
    labels = y[holdout]
    print(f"{len(holdout)} holdout windows, majority class {np.bincount(labels, minlength=3).max() / len(labels):.4f}")
    partner = None
    for path in ([args.ensemble] if args.ensemble else []) + args.models:
        model = onnx.load(path)
        window = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
        if model.graph.input[0].type.tensor_type.shape.dim[2].dim_value != len(names):
            parser.error(f"{path}: reads a feature subset; this script feeds every dataset column")
        inputs = np.ascontiguousarray(train.windows(x, holdout, window, slice(None)))
        p = run_batched(model, inputs)
        report(os.path.basename(path), p, labels)
        if args.ensemble and partner is None:
            partner = p
        elif partner is not None:
            share, right = signals(p, partner, labels)
            print(f"  with {os.path.basename(args.ensemble)}: a signal on {share:.4f} of windows, its direction right {right:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
