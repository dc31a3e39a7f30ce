#!/usr/bin/python3
"""Rewrites an exported model's ONNX graph into an equivalent one ONNX Runtime runs faster on the CPU; same weights,
same math, the outputs equal within float rounding (train.py checks them against PyTorch's, the parity test in C#).

Two rewrites, each measured on the closing burst (docs/models.md, "Cost"):

1. Normalisation over the flattened window. PyTorch exports (x - mean) / std with mean and std of shape [features],
   so ONNX Runtime broadcasts them over [batch, window, features] in spans of `features` (22) floats, which cost about
   as much as an LSTM's input projection. The graph reshapes x to [batch, window * features] and uses mean and std tiled
   to the window instead: the same subtraction and division per element (bitwise the same values), in spans of 704.
2. LSTM unrolled into Gemm and element-wise ops (models with one unidirectional LSTM layer read at its last step).
   ONNX Runtime's LSTM kernel cost follows rows x steps more than its arithmetic (the 48-step shadow model, with fewer
   multiply-adds, cost twice the 32-step one); unrolled, every step is four Gemm + activation pairs over the whole
   batch (fused by ONNX Runtime into FusedGemm, activations vectorised by MLAS) and five element-wise ops. The sum of the input and recurrent biases is the only change in rounding.

Usage: /usr/bin/python3 models/train/optimize_onnx.py MODEL.onnx [OUT.onnx]   (in place without OUT)
       /usr/bin/python3 models/train/optimize_onnx.py --manifest models/NAME.manifest.json NEW_VERSION
train.py runs it on every export; it needs only python3-onnx and python3-numpy.
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def optimize(model):
    graph = model.graph
    window, features = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]]
    _flatten_normalisation(graph, window, features)
    if any(n.op_type == "LSTM" for n in graph.node):
        _unroll_lstm(graph, window)
    onnx.checker.check_model(model)
    return model


def bundle(manifest_path, version):
    """Rewrites a bundled model as a new version beside it: the .onnx rewritten, the parity file copied (the same
    PyTorch outputs hold), the manifest pointed at both with the new sha256. Training data and metrics are unchanged:
    the weights are the same."""
    folder = os.path.dirname(manifest_path)
    with open(manifest_path) as f:
        manifest = json.load(f)
    base = f"{manifest['name']}-{version}"
    onnx.save(optimize(onnx.load(os.path.join(folder, manifest["file"]))), os.path.join(folder, base + ".onnx"))
    shutil.copyfile(os.path.join(folder, manifest["parity"]), os.path.join(folder, base + ".parity.json"))
    with open(os.path.join(folder, base + ".onnx"), "rb") as f:
        manifest["sha256"] = hashlib.sha256(f.read()).hexdigest()
    manifest["graph"] = f"{manifest['version']} rewritten by models/train/optimize_onnx.py (same weights)"
    manifest.update(version=version, file=base + ".onnx", parity=base + ".parity.json")
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{manifest_path}: {manifest['graph']} -> {base}.onnx")


def _initializer(graph, name):
    return next(i for i in graph.initializer if i.name == name)


def _replace_initializer(graph, name, array):
    old = _initializer(graph, name)
    graph.initializer.remove(old)
    graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), name))


def _flatten_normalisation(graph, window, features):
    nodes = list(graph.node)
    sub = next(n for n in nodes if n.op_type == "Sub" and n.input[0] == graph.input[0].name)
    div = next(n for n in nodes if n.op_type == "Div" and n.input[0] == sub.output[0])
    clip = next(n for n in nodes if n.op_type == "Clip" and n.input[0] == div.output[0])
    mean = numpy_helper.to_array(_initializer(graph, sub.input[1]))
    std = numpy_helper.to_array(_initializer(graph, div.input[1]))
    assert mean.shape == (features,) and std.shape == (features,), "normalisation is per feature"
    _replace_initializer(graph, sub.input[1], np.tile(mean, window))
    _replace_initializer(graph, div.input[1], np.tile(std, window))
    graph.initializer.extend([
        numpy_helper.from_array(np.array([-1, window * features], dtype=np.int64), "norm.flat_shape"),
        numpy_helper.from_array(np.array([-1, window, features], dtype=np.int64), "norm.window_shape"),
    ])
    flat = helper.make_node("Reshape", [graph.input[0].name, "norm.flat_shape"], ["norm.flat"], name="/norm/Flatten")
    sub.input[0] = "norm.flat"
    clipped = clip.output[0]
    clip.output[0] = "norm.clipped_flat"
    back = helper.make_node("Reshape", ["norm.clipped_flat", "norm.window_shape"], [clipped], name="/norm/Unflatten")
    index = nodes.index(sub)
    graph.node.insert(index, flat)
    graph.node.insert(nodes.index(clip) + 2, back)


def _unroll_lstm(graph, window):
    nodes = list(graph.node)
    lstm = next(n for n in nodes if n.op_type == "LSTM")
    attributes = {a.name: helper.get_attribute_value(a) for a in lstm.attribute}
    assert attributes.get("direction", b"forward") in (b"forward", "forward") and "activations" not in attributes
    assert attributes.get("layout", 0) == 0 and "clip" not in attributes and attributes.get("input_forget", 0) == 0
    hidden = attributes["hidden_size"]
    w = numpy_helper.to_array(_initializer(graph, lstm.input[1]))[0]   # [4H, I], gates i, o, f, c
    r = numpy_helper.to_array(_initializer(graph, lstm.input[2]))[0]   # [4H, H]
    b = numpy_helper.to_array(_initializer(graph, lstm.input[3]))[0]   # [8H]: Wb then Rb
    assert len(lstm.input) < 5 or lstm.input[4] == "", "sequence lengths are not supported"

    # The LSTM reads the normalised window through a batch-first Transpose; its output Y goes through Squeeze and
    # Transpose back, and the head reads Y[:, -1, :] with a Gather. Find the tensor the head reads.
    transpose_in = next(n for n in nodes if n.output[0] == lstm.input[0])
    assert transpose_in.op_type == "Transpose"
    source = transpose_in.input[0]                                  # [B, W, I]
    last = _last_step_consumer(nodes, lstm.output[0])                # the Gather node that takes step W-1
    head_input = last.output[0]

    # ONNX orders the gates i, o, f, c (cell candidate). One Gemm per gate, so each is followed by its own activation
    # (ONNX Runtime fuses the pair); a single Gemm over all four and a Split measured a little slower.
    gates = {"i": 0, "o": 1, "f": 2, "c": 3}
    new_nodes, inits = [], []
    for gate, k in gates.items():
        rows = slice(k * hidden, (k + 1) * hidden)
        inits.append(numpy_helper.from_array(w[rows].T.copy(), f"lstm.wx_{gate}"))                                  # [I, H]
        inits.append(numpy_helper.from_array(np.concatenate([w[rows], r[rows]], axis=1).T.copy(), f"lstm.w_{gate}"))  # [I+H, H]
        bias = b[rows] + b[4 * hidden + k * hidden:4 * hidden + (k + 1) * hidden]
        inits.append(numpy_helper.from_array(bias.astype(np.float32), f"lstm.b_{gate}"))
    activation = {"i": "Sigmoid", "o": "Sigmoid", "f": "Sigmoid", "c": "Tanh"}
    h, c = None, None
    for t in range(window):
        p = f"/lstm/step{t}/"
        inits.append(numpy_helper.from_array(np.array(t, dtype=np.int64), f"lstm.t{t}"))
        new_nodes.append(helper.make_node("Gather", [source, f"lstm.t{t}"], [p + "x"], axis=1, name=p + "Gather"))
        if h is None:
            z, weight = p + "x", "lstm.wx{}"
        else:
            new_nodes.append(helper.make_node("Concat", [p + "x", h], [p + "xh"], axis=1, name=p + "Concat"))
            z, weight = p + "xh", "lstm.w{}"
        for gate in gates:
            new_nodes.append(helper.make_node("Gemm", [z, weight.format("_" + gate), f"lstm.b_{gate}"], [p + gate + "_pre"], name=p + "Gemm_" + gate))
            new_nodes.append(helper.make_node(activation[gate], [p + gate + "_pre"], [p + gate], name=p + activation[gate] + "_" + gate))
        if c is None:
            new_nodes.append(helper.make_node("Mul", [p + "i", p + "c"], [p + "cell"], name=p + "Mul_ig"))
        else:
            new_nodes.append(helper.make_node("Mul", [p + "f", c], [p + "fc"], name=p + "Mul_fc"))
            new_nodes.append(helper.make_node("Mul", [p + "i", p + "c"], [p + "ig"], name=p + "Mul_ig"))
            new_nodes.append(helper.make_node("Add", [p + "fc", p + "ig"], [p + "cell"], name=p + "Add_cell"))
        new_nodes.append(helper.make_node("Tanh", [p + "cell"], [p + "tanh_cell"], name=p + "Tanh_cell"))
        h_out = head_input if t == window - 1 else p + "h"
        new_nodes.append(helper.make_node("Mul", [p + "o", p + "tanh_cell"], [h_out], name=p + "Mul_h"))
        h, c = h_out, p + "cell"

    # Keep everything up to the normalised window and from the head on; the LSTM's plumbing (its zero initial states
    # from the batch size) is then unused and dropped.
    produced_by_lstm = _downstream_until(nodes, lstm, head_input) | {id(transpose_in), id(lstm), id(last)}
    kept_before, kept_after, seen_head = [], [], False
    for n in nodes:
        if id(n) in produced_by_lstm:
            continue
        if head_input in n.input:
            seen_head = True
        (kept_after if seen_head else kept_before).append(n)
    del graph.node[:]
    graph.node.extend(kept_before + new_nodes + kept_after)
    for name in list(lstm.input[1:4]):
        graph.initializer.remove(_initializer(graph, name))
    graph.initializer.extend(inits)
    _drop_unused(graph)


def _last_step_consumer(nodes, lstm_y):
    # Y [W, 1, B, H] → Squeeze → Transpose → Gather(index -1 or W-1, axis 1) → [B, H]
    current = lstm_y
    while True:
        consumer = next(n for n in nodes if current in n.input)
        if consumer.op_type == "Gather":
            return consumer
        current = consumer.output[0]


def _downstream_until(nodes, start, stop_tensor):
    found, frontier = set(), set(start.output)
    for n in nodes:
        if any(i in frontier for i in n.input) and stop_tensor not in n.output:
            found.add(id(n))
            frontier.update(n.output)
    return found


def _drop_unused(graph):
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


if __name__ == "__main__":
    if sys.argv[1] == "--manifest":
        bundle(sys.argv[2], sys.argv[3])
    else:
        source = sys.argv[1]
        target = sys.argv[2] if len(sys.argv) > 2 else source
        onnx.save(optimize(onnx.load(source)), target)
        print(f"{source} -> {target}")
