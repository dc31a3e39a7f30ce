#!/usr/bin/python3
"""Trains the bundled direction models on a dataset written by `export-dataset` and exports them for the server.

For a windowed model: train in PyTorch, export ONNX (opset 17, dynamic batch axis, input "features" float32
[batch, window, features] of RAW engine features, output "probabilities" float32 [batch, 3] = P(down), P(flat),
P(up)), rewrite the graph for ONNX Runtime (optimize_onnx.py), then write models/<name>.manifest.json and models/<name>-<version>.parity.json (inputs with PyTorch's outputs).
A recurrent LSTM (a spec with a `chain`: the bundled LSTMs) is trained by recurrent.py, which writes the served
<name>-<version>-step.onnx, its parity and manifest, and beside them the LSTM-operator graph <name>-<version>.onnx and
the PyTorch checkpoint <name>-<version>.pt, which are not bundled.
Input normalisation (training-set mean/std, then a clamp to +-5) is part of the graph, so the server feeds raw features.

Usage: /usr/bin/python3 models/train/train.py [--data models/data/dataset.csv] [--out models] [--only NAME] [--epochs N]
       a trial of another size, beside the bundled files: --only NAME --hidden N [--window N] --version V --out DIR
       a windowed LSTM (the recipe and version the recurrent one replaced): --only NAME --windowed --out DIR
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optimize_onnx  # noqa: E402  (beside this file)

LABELS = ["down", "flat", "up"]
SHADOW_FEATURES = ["ret_1", "ret_3", "ret_6", "ret_12", "ret_24", "vol_12", "vol_48", "rsi_14", "macd_hist",
                   "bb_position", "bb_width", "atr_14", "volume_z_48", "body", "range", "taker_buy_ratio"]


# ---------------------------------------------------------------------------------------------------------- models
class Normalise(nn.Module):
    """(x - mean) / std, clamped to +-5: fat-tailed features cannot saturate the network."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x):
        return torch.clamp((x - self.mean) / self.std, -5.0, 5.0)


class Calibrated(nn.Module):
    """softmax(logits / T): temperature scaling fitted on the validation windows after training (T = 1 while
    training), so the exported graph's probabilities are calibrated and the server's thresholds mean what they say."""

    def __init__(self):
        super().__init__()
        self.register_buffer("inverse_temperature", torch.tensor(1.0))

    def forward(self, logits):
        return torch.softmax(logits * self.inverse_temperature, dim=-1)


class LstmDirection(nn.Module):
    def __init__(self, mean, std, features, hidden, layers):
        super().__init__()
        self.norm = Normalise(mean, std)
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True, dropout=0.1 if layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 3))
        self.calibrated = Calibrated()

    def forward(self, x):
        out, _ = self.lstm(self.norm(x))
        return self.calibrated(self.head(out[:, -1, :]))


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with explicit attention (exports to plain ONNX ops)."""

    def __init__(self, d_model, heads, ff):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff), nn.GELU(), nn.Linear(ff, d_model))
        self.drop = nn.Dropout(0.1)

    def forward(self, x):                                   # x: [N, P, d]
        n, p, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        q = q.reshape(n, p, self.heads, self.d_head).transpose(1, 2)
        k = k.reshape(n, p, self.heads, self.d_head).transpose(1, 2)
        v = v.reshape(n, p, self.heads, self.d_head).transpose(1, 2)
        attention = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d_head), dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(n, p, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.ff(self.norm2(x)))


class PatchTstDirection(nn.Module):
    """PatchTST-style (Nie et al. 2023): the window is cut into patches over time, each patch is one token, a
    transformer encoder mixes the tokens and a flatten head maps them to 3 classes. Unlike the paper, a token embeds
    all feature channels of its patch (channel mixing): 22 independent channels x 8 short patches cost ~3M MACs a
    window (~225 us a row in ONNX Runtime), 4 mixed tokens cost ~60k, and the features are not independent series
    (RSI, MACD and ATR are all views of one price), so mixing them early loses little."""

    def __init__(self, mean, std, features, window, patch, d_model=32, heads=4, ff=64, layers=1):
        super().__init__()
        assert window % patch == 0
        self.patches, self.token = window // patch, patch * features
        self.norm = Normalise(mean, std)
        self.embed = nn.Linear(self.token, d_model)
        self.position = nn.Parameter(torch.randn(self.patches, d_model) * 0.02)
        self.layers = nn.ModuleList([EncoderLayer(d_model, heads, ff) for _ in range(layers)])
        self.out_norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(self.patches * d_model, 3))
        self.calibrated = Calibrated()

    def forward(self, x):                                   # x: [B, W, C], time-major, so a patch is contiguous
        x = self.norm(x).reshape(-1, self.patches, self.token)   # [B, P, L*C]
        x = self.embed(x) + self.position
        for layer in self.layers:
            x = layer(x)
        x = self.out_norm(x).reshape(-1, self.patches * x.shape[-1])
        return self.calibrated(self.head(x))


# Every model runs on every closing burst, so its ONNX cost per row is part of the design (docs/models.md, "Cost").
# Each spec is the recipe of the bundled version: `lr` its starting learning rate, `epoch` its training windows (or, for
# a recurrent model, labelled readouts) per epoch and `patience` its early stopping (--lr, --epoch-windows and
# --patience override them). An LSTM with a `chain` is recurrent (recurrent.py: its state carried per stream, served
# one row a step); its `windowed` recipe is the windowed LSTM it replaced (--windowed, for comparisons: a windowed LSTM
# epoch costs ~5x a PatchTST one, so it is smaller to validate as often).
SPECS = [
    dict(name="lstm-direction", version="1.4.0-r32", family="lstm", status="active", weight=0.6, chain=32, lr=2e-3,
         epoch=240_000, patience=6, features=None, hidden=16, window=None, patch=None,
         windowed=dict(version="1.3.0", chain=0, window=32, epoch=30_000, patience=3),
         build=lambda m, s, f, w, h, p: LstmDirection(m, s, f, hidden=h, layers=1)),
    dict(name="patchtst-direction", version="2.0.1", family="patchtst", status="active", weight=0.4, chain=0, lr=1e-3,
         epoch=60_000, patience=3, features=None, hidden=32, window=32, patch=8,
         build=lambda m, s, f, w, h, p: PatchTstDirection(m, s, f, w, patch=p, d_model=h, ff=2 * h)),
    dict(name="lstm-shadow", version="2.1.0-r32", family="lstm", status="shadow", weight=0.6, chain=32, lr=2e-3,
         epoch=240_000, patience=6, features=SHADOW_FEATURES, hidden=32, window=None, patch=None,
         windowed=dict(version="2.0.1", chain=0, window=48, epoch=30_000, patience=3),
         build=lambda m, s, f, w, h, p: LstmDirection(m, s, f, hidden=h, layers=1)),
]


# ------------------------------------------------------------------------------------------------------------ data
def load(path):
    # Parsing the CSV takes minutes on a busy machine; a binary copy next to it is reused while the CSV is unchanged.
    cache = path + ".npz"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        data = np.load(cache)
        return list(data["names"]), data["stream"], data["x"], data["y"]
    names, stream, x, y = parse(path)
    np.savez(cache, names=np.array(names), stream=stream, x=x, y=y)
    return names, stream, x, y


def parse(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        names = header[5:-3]
        rows = [line.rstrip("\n").split(",") for line in f]
    table = np.array(rows)
    stream = table[:, 0].astype(np.int32)
    x = table[:, 5:-3].astype(np.float32)
    y = table[:, -1].astype(np.int64)
    return names, stream, x, y


def window_ends(stream, window, horizon, holdout_fraction, validation_fraction=0.1):
    """Row indices that end a full window inside one stream, split by time per stream into fit, validation and
    holdout (the last part), with `horizon` rows dropped before each later part so no earlier label sees its prices.
    Every stream contributes to every part: the streams differ (a 1h stream is far less predictable than a 1m one),
    so a split by stream would pick epochs and fit the temperature on unrepresentative streams."""
    fit, validation, holdout = [], [], []
    starts = np.flatnonzero(np.r_[True, stream[1:] != stream[:-1]])
    ends = np.r_[starts[1:], len(stream)]
    for start, end in zip(starts, ends):
        first = start + window - 1
        if first >= end:
            continue
        cut = start + int((end - start) * (1 - holdout_fraction))
        val_cut = first + int((cut - horizon - first) * (1 - validation_fraction))
        fit.extend(range(first, max(first, val_cut - horizon)))
        validation.extend(range(max(first, val_cut), max(first, cut - horizon)))
        holdout.extend(range(max(first, cut), end))
    return np.array(fit), np.array(validation), np.array(holdout)


def windows(x, ends, window, columns):
    offsets = np.arange(-window + 1, 1)
    return x[(ends[:, None] + offsets[None, :])][:, :, columns]


# ---------------------------------------------------------------------------------------------------------- metrics
def evaluate(probabilities, y):
    onehot = np.eye(3)[y]
    accuracy = float((probabilities.argmax(1) == y).mean())
    brier = float(((probabilities - onehot) ** 2).sum(1).mean())
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == y
    calibration = []
    for i in range(10):
        lower, upper = i / 10, (i + 1) / 10
        mask = (confidence >= lower) & ((confidence < upper) if i < 9 else (confidence <= upper))
        count = int(mask.sum())
        calibration.append(dict(lower=lower, upper=upper, count=count,
                                meanPredicted=round(float(confidence[mask].mean()), 6) if count else 0.0,
                                observed=round(float(correct[mask].mean()), 6) if count else 0.0))
    return accuracy, brier, calibration


def predict(model, inputs, batch=2048):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            out.append(model(torch.from_numpy(inputs[i:i + batch])).numpy())
    return np.concatenate(out)


# ------------------------------------------------------------------------------------------------------------ train
class EarlyStopping:
    """What follows each epoch, for every model: the validation report, the best weights so far, the learning-rate
    plateau, and whether to stop (no better validation loss in the spec's patience epochs, or the --max-minutes budget
    spent)."""

    def __init__(self, spec, model, plateau, args, t0):
        self.name, self.model, self.plateau, self.patience, self.t0 = spec["name"], model, plateau, spec["patience"], t0
        self.budget = args.max_minutes * 60 if args.max_minutes else float("inf")
        self.best, self.best_state, self.best_epoch, self.stale = float("inf"), None, 0, 0  # a --resume sets the first three

    def over_budget(self):
        return time.time() - self.t0 > self.budget

    def end_epoch(self, epoch, train_loss, seen, unit, val_p, val_y, lr):
        """Records epoch `epoch` (0-based); True when training should stop."""
        val_loss = float(-np.log(val_p[np.arange(len(val_y)), val_y] + 1e-7).mean())
        val_acc = float((val_p.argmax(1) == val_y).mean())
        print(f"  {self.name} epoch {epoch + 1}: train loss {train_loss:.4f} ({seen} {unit}), "
              f"val loss {val_loss:.4f}, val acc {val_acc:.3f}, lr {lr:.1e} "
              f"({time.time() - self.t0:.0f} s)", flush=True)
        if val_loss < self.best:
            self.best, self.best_epoch, self.stale = val_loss, epoch + 1, 0
            self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
        else:
            self.stale += 1
        self.plateau.step(val_loss)
        if self.stale >= self.patience:
            print(f"  {self.name}: early stop after epoch {epoch + 1}, no better validation loss in {self.stale} epochs", flush=True)
            return True
        if self.over_budget():
            print(f"  {self.name}: stopping after epoch {epoch + 1}, the --max-minutes budget is spent", flush=True)
            return True
        return False

    def keep_best(self):
        """Reports the epoch kept and loads its weights."""
        print(f"  {self.name}: keeping epoch {self.best_epoch} (validation loss {self.best:.4f})", flush=True)
        self.model.load_state_dict(self.best_state)


def train_one(spec, names, stream, x, y, meta, args):
    t0 = time.time()
    feature_names = spec["features"] or names
    columns = [names.index(n) for n in feature_names]
    window = spec["window"]
    rng = np.random.default_rng(42)
    torch.manual_seed(42)
    train_ends, val_ends, holdout_ends = window_ends(stream, window, meta["horizon"], 0.2)
    if len(train_ends) > args.max_train:
        train_ends = np.sort(rng.choice(train_ends, args.max_train, replace=False))
    if len(val_ends) > args.max_validation:
        val_ends = np.sort(rng.choice(val_ends, args.max_validation, replace=False))
    if len(holdout_ends) > args.max_holdout:
        holdout_ends = np.sort(rng.choice(holdout_ends, args.max_holdout, replace=False))
    xs = x[:, columns]
    train_rows = xs[np.unique((train_ends[:, None] + np.arange(-window + 1, 1)[None, :]).ravel())]
    mean = train_rows.mean(0)
    std = np.maximum(train_rows.std(0), 1e-8)
    model = spec["build"](mean, std, len(columns), window, spec["hidden"], spec["patch"])

    # The last 10 % (in time) of every stream's training part picks the best epoch and fits the temperature.
    fit_ends = train_ends
    val_x, val_y = windows(xs, val_ends, window, slice(None)), y[val_ends]
    counts = np.bincount(y[fit_ends], minlength=3)
    loss_fn = nn.NLLLoss(weight=torch.tensor(len(fit_ends) / (3 * np.maximum(counts, 1)), dtype=torch.float32))
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec["lr"], weight_decay=1e-4)
    # Early stopping on the time-ordered validation windows: the learning rate halves after an epoch without a better
    # validation loss, training stops after `patience` such epochs or when --max-minutes is spent (checked every
    # batch, so one long epoch cannot overrun the budget), and the best epoch's weights are kept.
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=0)
    stopping, start = EarlyStopping(spec, model, plateau, args, t0), 0
    # The best weights so far are kept next to the dataset, so a budgeted run can be continued (--resume) with the
    # same normalisation, learning rate and epoch sampling as one longer run.
    checkpoint = os.path.join(os.path.dirname(os.path.abspath(args.data)), f"{spec['name']}-{spec['version']}.checkpoint.pt")
    if args.resume and os.path.exists(checkpoint):
        saved = torch.load(checkpoint)
        model.load_state_dict(saved["state"])
        stopping.best_state, stopping.best, stopping.best_epoch, start = saved["state"], saved["best"], saved["best_epoch"], saved["epochs"]
        optimiser.load_state_dict(saved["optimiser"])
        plateau.load_state_dict(saved["plateau"])
        for _ in range(start):
            rng.permutation(fit_ends)
        print(f"  {spec['name']}: resuming after epoch {start} (best epoch {stopping.best_epoch}, validation loss {stopping.best:.4f})", flush=True)
    epoch = start - 1
    for epoch in range(start, args.epochs):
        model.train()
        # An epoch is a fresh sample of `epoch` windows from the training pool, so validation (and early stopping)
        # comes every few minutes even on a busy machine while the whole pool is still seen over the epochs.
        order = rng.permutation(fit_ends)[:spec["epoch"]]
        total, seen = 0.0, 0
        for i in range(0, len(order), args.batch):
            if stopping.over_budget() and seen:
                break
            ends = order[i:i + args.batch]
            batch_x = torch.from_numpy(windows(xs, ends, window, slice(None)))
            batch_y = torch.from_numpy(y[ends])
            probabilities = model(batch_x)
            loss = loss_fn(torch.log(probabilities + 1e-7), batch_y)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            total += loss.item() * len(ends)
            seen += len(ends)
        if stopping.end_epoch(epoch, total / seen, seen, "windows", predict(model, val_x), val_y, optimiser.param_groups[0]["lr"]):
            break
    stopping.keep_best()
    meta = dict(meta, epochs=epoch + 1, best_epoch=stopping.best_epoch)
    # The optimiser state is the last epoch's and the weights the best epoch's: a resumed run starts from the best
    # weights at the learning rate the plateau schedule had reached.
    torch.save(dict(state=stopping.best_state, best=stopping.best, best_epoch=stopping.best_epoch, epochs=epoch + 1,
                    optimiser=optimiser.state_dict(), plateau=plateau.state_dict()), checkpoint)
    model.eval()
    temperature = fit_temperature(predict(model, val_x), val_y)
    model.calibrated.inverse_temperature.fill_(1.0 / temperature)
    print(f"  {spec['name']}: temperature {temperature:.3f} (fitted on the validation windows)", flush=True)

    holdout_x, holdout_y = windows(xs, holdout_ends, window, slice(None)), y[holdout_ends]
    accuracy, brier, calibration, meta = holdout_metrics(predict(model, holdout_x), holdout_y, meta)
    print(f"  {spec['name']}: holdout accuracy {accuracy:.4f}, Brier {brier:.4f} (majority class {meta['majority']:.4f}); "
          f"P(up|down) >= 0.65 on {meta['confident_share']:.4f} of windows, right {meta['confident_accuracy']:.3f} of those", flush=True)
    export(spec, model, feature_names, holdout_x, len(train_ends), accuracy, brier, calibration, temperature, meta, args)


def holdout_metrics(probabilities, y, meta):
    """evaluate()'s accuracy, Brier and calibration, and `meta` with what the manifest reports beside them."""
    accuracy, brier, calibration = evaluate(probabilities, y)
    majority = float(np.bincount(y, minlength=3).max() / len(y))
    # The server's default vote threshold is 0.65 on P(up) or P(down): how often a model alone clears it, and how often
    # the direction is then right, is what decides the live signal rate and quality.
    directional = np.maximum(probabilities[:, 0], probabilities[:, 2])
    confident = directional >= 0.65
    direction = np.where(probabilities[:, 2] > probabilities[:, 0], 2, 0)
    confident_accuracy = float((direction[confident] == y[confident]).mean()) if confident.any() else 0.0
    return accuracy, brier, calibration, dict(meta, majority=majority, confident_share=float(confident.mean()),
                                              confident_accuracy=confident_accuracy)


def fit_temperature(probabilities, y):
    """The T minimising the validation NLL of softmax(log p / T) (a grid is enough for one parameter)."""
    log_p = np.log(np.maximum(probabilities, 1e-12))
    best, best_t = float("inf"), 1.0
    for t in np.arange(0.5, 3.001, 0.01):
        z = log_p / t
        z = z - z.max(1, keepdims=True)
        nll = float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))).mean())
        if nll < best:
            best, best_t = nll, float(t)
    return round(best_t, 2)


def export(spec, model, feature_names, holdout_x, samples, accuracy, brier, calibration, temperature, meta, args):
    base = f"{spec['name']}-{spec['version']}"
    onnx_path = os.path.join(args.out, base + ".onnx")
    window, nf = spec["window"], len(feature_names)
    torch.onnx.export(model, torch.from_numpy(holdout_x[:2].copy()), onnx_path, opset_version=17,
                      input_names=["features"], output_names=["probabilities"],
                      dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}}, do_constant_folding=True)
    # The same model in a graph ONNX Runtime runs faster (flattened normalisation, unrolled LSTM): optimize_onnx.py.
    onnx.save(optimize_onnx.optimize(onnx.load(onnx_path)), onnx_path)

    # Parity vectors: real holdout windows, exactly as float32, with PyTorch's outputs for them.
    # Numbers are the shortest text that reads back as the same float32.
    inputs = holdout_x[np.linspace(0, len(holdout_x) - 1, 16).astype(int)].astype(np.float32)
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs)).numpy()
    parity_name = base + ".parity.json"
    f32 = lambda values: "[" + ",".join(np.format_float_positional(v, unique=True, trim="0") for v in values) + "]"
    with open(os.path.join(args.out, parity_name), "w") as f:
        f.write('{"inputs":[' + ",".join("[" + ",".join(f32(row) for row in sample) + "]" for sample in inputs)
                + '],"outputs":[' + ",".join(f32(row) for row in outputs) + "]}\n")

    write_manifest(spec, base + ".onnx", [-1, window, nf], feature_names, samples, accuracy, brier, calibration,
                   temperature, meta, parity_name, args.out)
    print(f"  wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), manifest and parity", flush=True)


def write_manifest(spec, file, shape, feature_names, samples, accuracy, brier, calibration, temperature, meta, parity_name,
                   out, recurrent=None):
    """<out>/<name>.manifest.json for the graph `file` in `out`, its input `features` of `shape` ([-1, window, F]);
    `recurrent` (a recurrent model's chain and state) goes after the timeframes."""
    with open(os.path.join(out, file), "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    manifest = {
        "name": spec["name"], "version": spec["version"], "family": spec["family"], "status": spec["status"],
        "weight": spec["weight"], "file": file, "sha256": sha256,
        "input": {"name": "features", "type": "float32", "shape": shape},
        "output": {"name": "probabilities", "type": "float32", "shape": [-1, 3], "labels": LABELS},
        "features": list(feature_names), "window": shape[1], "timeframes": meta["timeframes"],
    }
    if recurrent:
        manifest["recurrent"] = recurrent
    manifest.update({
        "training": {"data": meta["data"], "samples": int(samples), "horizon": meta["horizon"],
                     "epochs": meta["epochs"], "bestEpoch": meta["best_epoch"],
                     "trainedAt": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()},
        "metrics": {"holdoutAccuracy": round(accuracy, 6), "brierScore": round(brier, 6),
                    "majorityClassAccuracy": round(meta["majority"], 6), "temperature": temperature,
                    "confidentShare": round(meta["confident_share"], 6),
                    "confidentDirectionAccuracy": round(meta["confident_accuracy"], 6),
                    "calibration": calibration},
        "parity": parity_name,
    })
    with open(os.path.join(out, spec["name"] + ".manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "data", "dataset.csv"))
    parser.add_argument("--out", default=os.path.join(here, ".."))
    parser.add_argument("--only", help="train one model by name")
    parser.add_argument("--epochs", type=int, default=30, help="at most this many epochs (early stopping usually ends sooner)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint a previous run left next to the dataset")
    parser.add_argument("--patience", type=int, default=0, help="stop after this many epochs without a better validation loss "
                        "(0: each model's own: 6 for a recurrent LSTM, 3 otherwise)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0, help="starting learning rate for every model (0: each model's own)")
    parser.add_argument("--max-train", type=int, default=400_000, help="training pool: windows sampled per model")
    parser.add_argument("--max-holdout", type=int, default=40_000)
    parser.add_argument("--max-validation", type=int, default=20_000, help="validation windows (early stopping, temperature)")
    parser.add_argument("--epoch-windows", type=int, default=0, help="training windows (a recurrent LSTM: readouts) per epoch, "
                        "sampled afresh from the pool (0: each model's own)")
    parser.add_argument("--max-minutes", type=float, default=0, help="training budget per model: stops within a batch of it (0: no limit)")
    parser.add_argument("--hidden", type=int, default=0, help="width of the --only model: LSTM units, or the PatchTST's d_model "
                        "(its feed-forward is twice that) (0: its own; a trial, see docs/models.md \"Cost\")")
    parser.add_argument("--patch", type=int, default=0, help="time steps a PatchTST token covers (0: its own; divides the window)")
    parser.add_argument("--window", type=int, default=0, help="window (time steps) of the --only model (0: its own)")
    parser.add_argument("--version", default="", help="version written for the --only model (default: its own)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the build machine is shared)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--recurrent", action="store_true", help="train the --only LSTM on chains, to carry its state per "
                      "stream (recurrent.py: the serving-step graphs and a manifest naming the -step.onnx); the bundled "
                      "LSTMs' default, so it only checks that --only names an LSTM")
    kind.add_argument("--windowed", action="store_true", help="train the --only LSTM on windows, with the recipe and "
                      "version of the windowed LSTM it replaced (1.3.0, 2.0.1), for comparisons")
    parser.add_argument("--chain", type=int, default=0, help="chain length L of a recurrent LSTM (0: its own, 32)")
    parser.add_argument("--chain-offsets", action="store_true", help="a recurrent LSTM: train on chains shifted by a random "
                        "0..L-1 rows too (augmentation; served and scored chains keep their anchors)")
    args = parser.parse_args()
    if (args.hidden or args.window or args.patch or args.version or args.recurrent or args.windowed) and not args.only:
        parser.error("--hidden, --window, --patch, --version, --recurrent and --windowed change one model: name it with --only")
    family = next((s["family"] for s in SPECS if s["name"] == args.only), None)
    if args.patch and family != "patchtst":
        parser.error("--patch is a PatchTST's token length: --only must name a PatchTST model")
    if (args.recurrent or args.windowed) and family != "lstm":
        parser.error("--recurrent and --windowed choose how an LSTM is trained: --only must name an LSTM")
    if (args.chain or args.chain_offsets) and (family != "lstm" or args.windowed):
        parser.error("--chain and --chain-offsets are a recurrent LSTM's: --only must name an LSTM, without --windowed")
    if args.window and family == "lstm" and not args.windowed:
        parser.error("--window is a windowed model's: a recurrent LSTM has none (--windowed for a windowed LSTM)")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    with open(args.data + ".meta.json") as f:
        meta = json.load(f)
    if not meta.get("timeframes"):
        meta["timeframes"] = ["1m", "5m", "15m", "1h"]
    t0 = time.time()
    names, stream, x, y = load(args.data)
    print(f"loaded {len(y)} rows, {len(names)} features, {stream.max() + 1} streams in {time.time() - t0:.0f} s", flush=True)
    for spec in SPECS:
        if args.only and spec["name"] != args.only:
            continue
        if args.windowed:
            spec = dict(spec, **spec["windowed"])
        # A trial of another size is another version, so its files and checkpoint cannot be taken for the bundled one's.
        spec = dict(spec, hidden=args.hidden or spec["hidden"], window=args.window or spec["window"],
                    patch=args.patch or spec["patch"], version=args.version or spec["version"],
                    chain=args.chain or spec["chain"], lr=args.lr or spec["lr"],
                    epoch=args.epoch_windows or spec["epoch"], patience=args.patience or spec["patience"])
        if spec["chain"]:
            import recurrent   # noqa: E402  (beside this file)
            recurrent.train_recurrent(spec, names, stream, x, y, meta, args)
        else:
            train_one(spec, names, stream, x, y, meta, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
