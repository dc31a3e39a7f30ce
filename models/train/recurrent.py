#!/usr/bin/python3
"""A recurrent LSTM: it carries its state per stream instead of re-reading a window every candle (issue 18.4;
docs/models.md, "A recurrent LSTM"). train.py runs it for every spec with a `chain` (the bundled LSTMs).

Serving semantics, chosen so a prediction depends only on the stream's rows (deterministic and replayable, whatever
the engine saw before a restart): bar index k = openTime / timeframe; the prediction at bar k is the LSTM run from a
zero state over the rows whose bar is in [L * (floor(k / L) - 1), k] (its "old chain", L + 1 to 2L rows), read after
the last row. Serving keeps two chains per stream, old (anchored at L * (floor(k / L) - 1)) and young (anchored at
L * floor(k / L)), steps both with every row and reads out the old one; when floor(k / L) advances by one the young
chain becomes the old one and a new young chain starts from zero, by two or more (a hole) both restart from zero.

Training follows it exactly: one sequence per stream and anchor a = L * j over the rows with bar in [a, a + 2L - 1],
from a zero state, with a loss on the rows with bar >= a + L, so every row gets exactly one loss, from its old chain.
A chain whose anchor precedes the stream's first (warm) row is dropped: its rows' predictions would have started late,
and the engine skips those (they are the stream's first 2L - 1 bars at most).

The exported graphs are one serving step: inputs `features` [B, T, F] (raw) and `state` [B, 4H] (old h, old c,
young h, young c), outputs `probabilities` [B, 3] (the old chain after the last of the T rows, temperature included)
and `state_out` [B, 4H]. Both chains run as one LSTM over a batch of 2B (rows 2b and 2b + 1 are stream b's old and
young chains), so the state reshapes to [2B, 2H] without copies. Two graphs of the same weights:
`<name>-<version>.onnx`, ONNX's LSTM operator with a dynamic time axis (catch-up over T rows), and
`<name>-<version>-step.onnx`, T = 1 unrolled into Gemm and element-wise ops (the input projection computed once for
both chains), the closing burst's graph.
"""
import os
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import score_onnx
import train

TIMEFRAME_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


class RecurrentDirection(train.LstmDirection):
    """The windowed model's layers (normalisation, LSTM, MLP head, temperature) read out after every row."""

    def sequence(self, x, state=None):
        out, _ = self.lstm(self.norm(x), state)
        return self.calibrated(self.head(out))


class ServingStep(nn.Module):
    """One serving step for B streams over T rows: both chains as one LSTM over 2B sequences."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hidden = model.lstm.hidden_size

    def forward(self, features, state):
        h = self.hidden
        x = self.model.norm(features)
        x = x.unsqueeze(1).expand(-1, 2, -1, -1).reshape(-1, x.shape[1], x.shape[2])   # [2B, T, F]
        s = state.reshape(-1, 2 * h)                                                      # [2B, 2H]: (h, c) per chain
        _, (h_n, c_n) = self.model.lstm(x, (s[:, :h].unsqueeze(0).contiguous(), s[:, h:].unsqueeze(0).contiguous()))
        probabilities = self.model.calibrated(self.model.head(h_n[0, 0::2]))
        return probabilities, torch.cat([h_n[0], c_n[0]], dim=1).reshape(-1, 4 * h)


# ------------------------------------------------------------------------------------------------------------ data
def bar_indexes(path, stream):
    """openTime / timeframe per row (cached next to the CSV like train.load's copy): exact, the dataset writes both."""
    cache = path + ".bars.npy"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        return np.load(cache)
    with open(path) as f:
        header = f.readline().strip().split(",")
        tf, ot = header.index("timeframe"), header.index("open_time")
        bars = np.empty(len(stream), dtype=np.int64)
        for i, line in enumerate(f):
            parts = line.split(",", max(tf, ot) + 1)
            bars[i] = int(parts[ot]) // TIMEFRAME_MS[parts[tf]]
    np.save(cache, bars)
    return bars


class Chains:
    """Every stream's chains: rows[c, t] is the row at bar anchor[c] + t (t < 2L), present[c, t] whether it exists;
    chain_of[r] and position_of[r] say which chain's position reads out row r (-1: no full old chain)."""

    def __init__(self, stream, bars, length):
        rows, present, anchors = [], [], []
        starts = np.flatnonzero(np.r_[True, stream[1:] != stream[:-1]])
        ends = np.r_[starts[1:], len(stream)]
        self.chain_of = np.full(len(stream), -1, dtype=np.int64)
        self.position_of = np.full(len(stream), -1, dtype=np.int64)
        offsets = np.arange(2 * length)
        for start, end in zip(starts, ends):
            k = bars[start:end]
            # bar -> row through a dense table (the stream's rows are time-ordered; a hole is a missing bar)
            table = np.full(int(k[-1] - k[0]) + 1, -1, dtype=np.int64)
            table[k - k[0]] = np.arange(start, end)
            # the first anchor at or after the stream's first row: a chain anchored before it would start late (dropped)
            first_anchor = -(-int(k[0]) // length) * length
            for anchor in range(first_anchor, int(k[-1]) - length + 1, length):
                wanted = anchor + offsets - int(k[0])
                found = np.where(wanted < len(table), table[np.minimum(wanted, len(table) - 1)], -1)
                if found[0] < 0:
                    continue        # a hole at the anchor: the engine could not tell a late start from a full chain
                c = len(rows)
                readout = found[length:]
                self.chain_of[readout[readout >= 0]] = c
                self.position_of[readout[readout >= 0]] = length + np.flatnonzero(readout >= 0)
                # a missing row repeats the previous one: at a stream's end that is padding after the last readout;
                # a hole inside a chain would be stepped twice, so train_recurrent refuses a dataset with one
                rows.append(np.maximum.accumulate(found))
                present.append(found >= 0)
                anchors.append(anchor)
        self.rows, self.present, self.anchor = np.array(rows), np.array(present), np.array(anchors)
        self.length = length

    def for_rows(self, rows):
        rows = rows[self.chain_of[rows] >= 0]
        return rows, self.chain_of[rows], self.position_of[rows]


def predict_rows(model, xs, chains, rows, batch=512):
    """Probabilities for `rows` (those with a full old chain; the rest are dropped), each from its old chain."""
    rows, chain, position = chains.for_rows(rows)
    needed, inverse = np.unique(chain, return_inverse=True)
    model.eval()
    out = np.empty((len(needed), 2 * chains.length, 3), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, len(needed), batch):
            part = needed[i:i + batch]
            x = torch.from_numpy(xs[chains.rows[part]])      # no holes (train_recurrent asserts it)
            out[i:i + len(part)] = model.sequence(x).numpy()
    return rows, out[inverse, position]


# ------------------------------------------------------------------------------------------------------------ train
def train_recurrent(spec, names, stream, x, y, meta, args):
    t0 = time.time()
    length = spec["chain"]
    feature_names = spec["features"] or names
    columns = [names.index(n) for n in feature_names]
    rng = np.random.default_rng(42)
    torch.manual_seed(42)
    bars = bar_indexes(args.data, stream)
    chains = Chains(stream, bars, length)
    # Only a stream's last chain may end early (at the stream's last row); a hole inside a chain would need the
    # chain's rows packed, which this dataset never needs.
    assert (np.diff(chains.present.astype(np.int8), axis=1) <= 0).all(), "this dataset has holes"
    # The windowed models' split (its 32-row windows), so the holdout rows are the same rows.
    fit_rows, val_rows, holdout_rows = train.window_ends(stream, 32, meta["horizon"], 0.2)
    xs = np.ascontiguousarray(x[:, columns])
    mean = xs[fit_rows].mean(0)
    std = np.maximum(xs[fit_rows].std(0), 1e-8)
    model = RecurrentDirection(mean, std, len(columns), spec["hidden"], 1)

    role = np.zeros(len(y), dtype=np.int8)          # 1: fit, the rows a loss is taken on
    role[fit_rows] = 1
    fit_rows = fit_rows[chains.chain_of[fit_rows] >= 0]
    train_chains = np.unique(chains.chain_of[fit_rows])
    readout_fit = (role[chains.rows[:, length:]] == 1) & chains.present[:, length:]   # [C, L]: readouts with a loss
    stream_end = np.r_[np.flatnonzero(stream[1:] != stream[:-1]), len(stream) - 1][np.cumsum(np.r_[0, stream[1:] != stream[:-1]])]
    counts = np.bincount(y[fit_rows], minlength=3)
    loss_fn = nn.NLLLoss(weight=torch.tensor(len(fit_rows) / (3 * np.maximum(counts, 1)), dtype=torch.float32))
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec["lr"], weight_decay=1e-4)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=0)
    stopping = train.EarlyStopping(spec, model, plateau, args, t0)
    # An epoch of `epoch` labelled rows (240,000 for the bundled LSTMs: 7,500 chains of 32 readouts); a batch of 8
    # chains is 256 readouts, the windowed batch.
    per_epoch = max(1, spec["epoch"] // length)
    per_batch = max(1, args.batch // length)
    print(f"  {spec['name']}: {len(chains.anchor)} chains of {length}+{length} rows, {len(train_chains)} with training "
          f"rows ({len(fit_rows)} readouts), {per_epoch} chains an epoch in batches of {per_batch}", flush=True)
    epoch = -1
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(train_chains)[:per_epoch]
        total, seen = 0.0, 0
        for i in range(0, len(order), per_batch):
            if stopping.over_budget() and seen:
                break
            part = order[i:i + per_batch]
            rows, readout = chains.rows[part], readout_fit[part]
            if args.chain_offsets:
                # Augmentation: the same chain shifted by 0..L-1 rows (an anchor the engine would never use, but a
                # chain of the same shape: L + 1 to 2L rows from a zero state). Without holes a shift is an offset.
                shifted = rows + rng.integers(0, length, size=(len(part), 1))
                inside = shifted <= stream_end[rows[:, :1]]
                rows = np.minimum(shifted, stream_end[rows[:, :1]])
                readout = (role[rows[:, length:]] == 1) & inside[:, length:] & chains.present[part, length:]
            probabilities = model.sequence(torch.from_numpy(xs[rows]))[:, length:]
            mask = torch.from_numpy(readout)
            labels = torch.from_numpy(y[rows[:, length:]])
            loss = loss_fn(torch.log(probabilities[mask] + 1e-7), labels[mask])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            total += loss.item() * int(mask.sum())
            seen += int(mask.sum())
        kept, val_p = predict_rows(model, xs, chains, val_rows)
        if stopping.end_epoch(epoch, total / seen, seen, "readouts", val_p, y[kept], optimiser.param_groups[0]["lr"]):
            break
    stopping.keep_best()
    model.eval()
    kept, val_p = predict_rows(model, xs, chains, val_rows)
    temperature = train.fit_temperature(val_p, y[kept])
    model.calibrated.inverse_temperature.fill_(1.0 / temperature)
    print(f"  {spec['name']}: temperature {temperature:.2f} (fitted on all {len(kept)} validation rows)", flush=True)

    # The manifests' holdout (score_onnx.py's rows, the windowed models' too), then every holdout row.
    sampled = score_onnx.scored_rows(stream, meta["horizon"], False)
    for label, rows in (("40,000 holdout rows", sampled), ("all holdout rows", holdout_rows)):
        kept, p = predict_rows(model, xs, chains, rows)
        assert len(kept) == len(rows), "every holdout row has a full old chain"
        accuracy, brier, calibration, scores = train.holdout_metrics(p, y[kept], meta)
        print(f"  {spec['name']}, {label}: accuracy {accuracy:.4f}, Brier {brier:.4f}; "
              f"P(up|down) >= 0.65 on {scores['confident_share']:.4f}, right {scores['confident_accuracy']:.3f} of those", flush=True)
        if rows is sampled:
            manifest_metrics = accuracy, brier, calibration, dict(scores, epochs=epoch + 1, best_epoch=stopping.best_epoch)
    base = f"{spec['name']}-{spec['version']}"
    os.makedirs(args.out, exist_ok=True)
    torch.save(dict(state=model.state_dict(), mean=mean, std=std, features=list(feature_names), hidden=spec["hidden"],
                    chain=length, temperature=temperature, best_epoch=stopping.best_epoch, epochs=epoch + 1),
               os.path.join(args.out, base + ".pt"))
    export(model, len(columns), length, xs, chains, holdout_rows, os.path.join(args.out, base))
    # The engine serves the step graph alone (catch-up too, row by row), so the manifest names it, with its state's
    # names and width as exported.
    step_graph = onnx.load(os.path.join(args.out, base + "-step.onnx")).graph
    state_in, state_out = step_graph.input[1], step_graph.output[1]
    accuracy, brier, calibration, scores = manifest_metrics
    train.write_manifest(spec, base + "-step.onnx", [-1, 1, len(columns)], feature_names, len(fit_rows), accuracy, brier,
                         calibration, temperature, scores, base + ".parity.json", args.out,
                         recurrent={"chain": length, "stateWidth": state_in.type.tensor_type.shape.dim[1].dim_value,
                                    "stateInput": state_in.name, "stateOutput": state_out.name})
    print(f"  wrote {os.path.join(args.out, spec['name'] + '.manifest.json')} (serving {base}-step.onnx)", flush=True)


# ----------------------------------------------------------------------------------------------------------- export
def export(model, features, length, xs, chains, holdout_rows, base):
    hidden = model.lstm.hidden_size
    step = ServingStep(model).eval()
    example = (torch.from_numpy(xs[holdout_rows[:6]].reshape(2, 3, features).copy()), torch.zeros(2, 4 * hidden))
    torch.onnx.export(step, example, base + ".onnx", opset_version=17, input_names=["features", "state"],
                      output_names=["probabilities", "state_out"], do_constant_folding=True,
                      dynamic_axes={"features": {0: "batch", 1: "time"}, "state": {0: "batch"},
                                    "probabilities": {0: "batch"}, "state_out": {0: "batch"}})
    onnx.save(gemm_step(model, features), base + "-step.onnx")
    write_parity(step, xs, chains, holdout_rows, length, base + ".parity.json")
    print(f"  wrote {base}.onnx ({os.path.getsize(base + '.onnx')} bytes), {base}-step.onnx "
          f"({os.path.getsize(base + '-step.onnx')} bytes), {base}.parity.json", flush=True)


def gemm_step(model, features):
    """T = 1, unrolled: the input projection once for both chains ([B, 4H]), the recurrent one over [2B, H], gates
    added as [B, 2, 4H] (so nothing is copied to pair a stream's chains), gates reordered i, f, o | g so one Sigmoid and
    one Tanh cover them."""
    hidden = model.lstm.hidden_size
    h4 = 4 * hidden
    order = np.r_[0:2 * hidden, 3 * hidden:4 * hidden, 2 * hidden:3 * hidden]     # torch's i, f, g, o -> i, f, o, g
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [
        numpy_helper.from_array(sd["norm.mean"], "mean"), numpy_helper.from_array(sd["norm.std"], "std"),
        numpy_helper.from_array(np.array(-5.0, np.float32), "lo"), numpy_helper.from_array(np.array(5.0, np.float32), "hi"),
        numpy_helper.from_array(np.array([-1, features], np.int64), "rows_shape"),
        numpy_helper.from_array(np.array([-1, 2 * hidden], np.int64), "chains_shape"),
        numpy_helper.from_array(np.array([-1, 2, h4], np.int64), "gates_shape"),
        numpy_helper.from_array(np.array([-1, 2, hidden], np.int64), "cells_shape"),
        numpy_helper.from_array(np.array([-1, h4], np.int64), "state_shape"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(0, np.int64), "old"),
        numpy_helper.from_array(np.array([hidden, hidden], np.int64), "hc_split"),
        numpy_helper.from_array(np.array([3 * hidden, hidden], np.int64), "gate_split"),
        numpy_helper.from_array(np.array([hidden] * 3, np.int64), "sigmoid_split"),
        numpy_helper.from_array(sd["lstm.weight_ih_l0"][order].T.copy(), "w_x"),                           # [F, 4H]
        numpy_helper.from_array((sd["lstm.bias_ih_l0"] + sd["lstm.bias_hh_l0"])[order], "b"),
        numpy_helper.from_array(sd["lstm.weight_hh_l0"][order].T.copy(), "w_h"),                           # [H, 4H]
        numpy_helper.from_array(sd["head.0.weight"].T.copy(), "w1"), numpy_helper.from_array(sd["head.0.bias"], "b1"),
        numpy_helper.from_array(sd["head.2.weight"].T.copy(), "w2"), numpy_helper.from_array(sd["head.2.bias"], "b2"),
        numpy_helper.from_array(np.array(1 / np.sqrt(2), np.float32), "inv_sqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"), numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(sd["calibrated.inverse_temperature"].reshape(()), "inverse_temperature"),
    ]
    n = helper.make_node
    nodes = [
        n("Reshape", ["features", "rows_shape"], ["x"]),
        n("Sub", ["x", "mean"], ["x_centred"]), n("Div", ["x_centred", "std"], ["x_scaled"]),
        n("Clip", ["x_scaled", "lo", "hi"], ["x_norm"]),
        n("Gemm", ["x_norm", "w_x", "b"], ["x_gates"]),                                 # [B, 4H], once for both chains
        n("Unsqueeze", ["x_gates", "axis1"], ["x_gates_3d"]),
        n("Reshape", ["state", "chains_shape"], ["chains"]),                            # [2B, 2H]
        n("Split", ["chains", "hc_split"], ["h", "c"], axis=1),
        n("MatMul", ["h", "w_h"], ["h_gates"]),                                         # [2B, 4H]
        n("Reshape", ["h_gates", "gates_shape"], ["h_gates_3d"]),
        n("Add", ["h_gates_3d", "x_gates_3d"], ["gates"]),                              # [B, 2, 4H]
        n("Split", ["gates", "gate_split"], ["sigmoid_pre", "g_pre"], axis=2),
        n("Sigmoid", ["sigmoid_pre"], ["sigmoid"]), n("Tanh", ["g_pre"], ["g"]),
        n("Split", ["sigmoid", "sigmoid_split"], ["i", "f", "o"], axis=2),
        n("Reshape", ["c", "cells_shape"], ["c_3d"]),
        n("Mul", ["f", "c_3d"], ["fc"]), n("Mul", ["i", "g"], ["ig"]), n("Add", ["fc", "ig"], ["c_new"]),
        n("Tanh", ["c_new"], ["c_tanh"]), n("Mul", ["o", "c_tanh"], ["h_new"]),         # [B, 2, H]
        n("Concat", ["h_new", "c_new"], ["state_3d"], axis=2),
        n("Reshape", ["state_3d", "state_shape"], ["state_out"]),
        n("Gather", ["h_new", "old"], ["h_old"], axis=1),                               # [B, H]
        n("Gemm", ["h_old", "w1", "b1"], ["z1"]),
        n("Mul", ["z1", "inv_sqrt2"], ["z1_scaled"]), n("Erf", ["z1_scaled"], ["z1_erf"]),   # GELU, exact (erf)
        n("Add", ["z1_erf", "one"], ["z1_erf1"]), n("Mul", ["z1", "z1_erf1"], ["z1_g"]), n("Mul", ["z1_g", "half"], ["a1"]),
        n("Gemm", ["a1", "w2", "b2"], ["logits"]),
        n("Mul", ["logits", "inverse_temperature"], ["scaled"]),
        n("Softmax", ["scaled"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "recurrent_step",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1, features]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", h4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["batch", h4])],
        inits)
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="recurrent.py")
    model_proto.ir_version = 8
    onnx.checker.check_model(model_proto)
    return model_proto


def write_parity(step, xs, chains, holdout_rows, length, path, samples=8, steps=8):
    """Real holdout rows with a real state: each sample is T rows of one chain, from the state both chains have
    before the first of them (stepped from their anchors in PyTorch, so the state is mid-chain), and PyTorch's outputs.
    Sample 0 starts from the zero state (a fresh chain pair) instead. A sample whose T rows would cross the chain's end
    takes the T rows from its row on (the graph's arithmetic is what the file checks, not the rollover)."""
    hidden = step.hidden
    picked = holdout_rows[np.linspace(0, len(holdout_rows) - 200, samples).astype(int)]
    inputs, states, outputs, states_out = [], [], [], []
    with torch.no_grad():
        for i, row in enumerate(picked):
            c, t = chains.chain_of[row], chains.position_of[row]
            # the chain pair before `row`: old = chain c up to position t - 1, young = its second half up to there
            state = torch.zeros(1, 4 * hidden)
            if i > 0 and t > length:
                # both chains over the old chain's first L rows, then the young one restarts at its anchor (row L)
                _, state = step(torch.from_numpy(xs[chains.rows[c, :length]][None]), state)
                state[:, 2 * hidden:] = 0
                _, state = step(torch.from_numpy(xs[chains.rows[c, length:t]][None]), state)
            rows = xs[chains.rows[c, t:t + steps]] if t + steps <= 2 * length else xs[row:row + steps]
            p, s = step(torch.from_numpy(rows[None].copy()), state)
            inputs.append(rows.astype(np.float32))
            states.append(state[0].numpy())
            outputs.append(p[0].numpy())
            states_out.append(s[0].numpy())
    f32 = lambda values: "[" + ",".join(np.format_float_positional(v, unique=True, trim="0") for v in values) + "]"
    with open(path, "w") as f:
        f.write('{"steps":' + str(steps) + ',"inputs":[' + ",".join("[" + ",".join(f32(r) for r in s) + "]" for s in inputs)
                + '],"state":[' + ",".join(f32(s) for s in states)
                + '],"outputs":[' + ",".join(f32(p) for p in outputs)
                + '],"stateOut":[' + ",".join(f32(s) for s in states_out) + "]}\n")
