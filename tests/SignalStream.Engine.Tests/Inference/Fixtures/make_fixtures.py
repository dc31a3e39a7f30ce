#!/usr/bin/python3
"""Builds the small ONNX test models and their parity vectors (numpy reference outputs).

Run with Debian's python (apt-get install -y python3-onnx python3-numpy):
    /usr/bin/python3 tests/SignalStream.Engine.Tests/Inference/Fixtures/make_fixtures.py
The outputs are committed; the tests never run Python. Models have a dynamic batch axis like the bundled ones.
  tiny-lstm.onnx   [-1, 6, 3] -> LSTM(hidden 8) -> last hidden state -> linear -> softmax [-1, 3]
  tiny-mean.onnx   [-1, 4, 2] -> mean over the window -> linear -> softmax [-1, 3]
  tiny-mean-5.onnx same graph with window 5, for the wrong-shape case
  bench-mlp.onnx   [-1, 64, 16] -> last row -> 16x64 relu -> 64x3 -> softmax (the MLP DESIGN.md measured)
  bench-lstm.onnx  [-1, 64, 16] -> LSTM(hidden 32) -> linear -> softmax (a realistic recurrent direction model)
  bench-mlp-row.onnx [-1, 1, 16] -> the same MLP shape over the newest feature row only (window 1: an MLP needs no
                   history, so the engine copies 16 floats a stream instead of a 64-row window)
  recurrent-sum.onnx features [-1, 1, 2] and state [-1, 4] -> state_out = state + [x, 1, x, 1] (x: the row's first
                   feature; each chain's sum and count), probabilities = softmax([old sum, old count / 100, 0]); a run
                   fails in ONNX Runtime when any row's x exceeds 5 (an out-of-range Gather), for the failed-batch tests
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240601)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="signalstream-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def io(window, features):
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", window, features])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])
    return x, y


def mean_model(name, window, features):
    w = rng.normal(0, 0.8, (features, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, (3,)).astype(np.float32)
    x, y = io(window, features)
    nodes = [
        helper.make_node("ReduceMean", ["features"], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["pooled", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(nodes, name, [x], [y], [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    save(graph, name + ".onnx")
    return lambda inp: softmax(inp.mean(axis=1) @ w + b)


def lstm_model(name, window, features, hidden):
    # ONNX LSTM weights: W [1, 4H, F], R [1, 4H, H], B [1, 8H]; gate order i, o, f, c.
    W = rng.normal(0, 0.5, (1, 4 * hidden, features)).astype(np.float32)
    R = rng.normal(0, 0.5, (1, 4 * hidden, hidden)).astype(np.float32)
    B = rng.normal(0, 0.1, (1, 8 * hidden)).astype(np.float32)
    head = rng.normal(0, 0.8, (hidden, 3)).astype(np.float32)
    head_b = rng.normal(0, 0.1, (3,)).astype(np.float32)
    x, y = io(window, features)
    nodes = [
        helper.make_node("Transpose", ["features"], ["seq_first"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["seq_first", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hidden),
        helper.make_node("Squeeze", ["Y_h", "axis0"], ["h"]),
        helper.make_node("MatMul", ["h", "HEAD"], ["mm"]),
        helper.make_node("Add", ["mm", "HEAD_B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(W, "W"), (R, "R"), (B, "B"), (head, "HEAD"), (head_b, "HEAD_B"), (np.array([0], np.int64), "axis0")]]
    save(helper.make_graph(nodes, name, [x], [y], inits), name + ".onnx")

    def reference(inp):
        sig = lambda v: 1 / (1 + np.exp(-v))
        n = inp.shape[0]
        h = np.zeros((n, hidden), np.float64)
        c = np.zeros((n, hidden), np.float64)
        w, r, bias = W[0].astype(np.float64), R[0].astype(np.float64), B[0].astype(np.float64)
        for t in range(window):
            g = inp[:, t, :].astype(np.float64) @ w.T + h @ r.T + bias[:4 * hidden] + bias[4 * hidden:]
            i, o, f, cc = np.split(g, 4, axis=1)
            c = sig(f) * c + sig(i) * np.tanh(cc)
            h = sig(o) * np.tanh(c)
        return softmax(h @ head.astype(np.float64) + head_b)

    return reference


def mlp_model(name, window, features, hidden):
    w1 = rng.normal(0, 0.3, (features, hidden)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (hidden,)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (hidden, 3)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (3,)).astype(np.float32)
    x, y = io(window, features)
    nodes = [
        helper.make_node("Gather", ["features", "last"], ["row"], axis=1),
        helper.make_node("MatMul", ["row", "W1"], ["m1"]),
        helper.make_node("Add", ["m1", "B1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("MatMul", ["r1", "W2"], ["m2"]),
        helper.make_node("Add", ["m2", "B2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "W1"), (b1, "B1"), (w2, "W2"), (b2, "B2"), (np.array(window - 1, np.int64), "last")]]
    save(helper.make_graph(nodes, name, [x], [y], inits), name + ".onnx")
    return lambda inp: softmax(np.maximum(inp[:, -1, :] @ w1 + b1, 0) @ w2 + b2)


def parity(name, reference, window, features, rows=5):
    inputs = rng.normal(0, 1, (rows, window, features)).astype(np.float32)
    outputs = reference(inputs).astype(np.float32)
    with open(os.path.join(HERE, name + ".parity.json"), "w") as f:
        json.dump({"inputs": inputs.tolist(), "outputs": outputs.tolist()}, f)


parity("tiny-lstm", lstm_model("tiny-lstm", 6, 3, 8), 6, 3)
parity("tiny-mean", mean_model("tiny-mean", 4, 2), 4, 2)
mean_model("tiny-mean-5", 5, 2)
parity("bench-mlp", mlp_model("bench-mlp", 64, 16, 64), 64, 16, rows=3)
parity("bench-lstm", lstm_model("bench-lstm", 64, 16, 32), 64, 16, rows=3)
parity("bench-mlp-row", mlp_model("bench-mlp-row", 1, 16, 64), 1, 16, rows=3)


def recurrent_sum_model(name):
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1, 2])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", 4])
    probabilities = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])
    state_out = helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["batch", 4])
    nodes = [
        helper.make_node("Reshape", ["features", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "Spread"], ["spread"]),
        helper.make_node("Add", ["spread", "Count"], ["step"]),
        helper.make_node("Add", ["state", "step"], ["state_out"]),
        helper.make_node("MatMul", ["state_out", "Read"], ["logits"]),
        # The poison: index 10 of a 2-element tensor when any x > 5, which ONNX Runtime refuses at run time.
        helper.make_node("MatMul", ["flat", "First"], ["x"]),
        helper.make_node("ReduceMax", ["x"], ["most"], keepdims=0),
        helper.make_node("Greater", ["most", "Five"], ["poisoned"]),
        helper.make_node("Cast", ["poisoned"], ["flag"], to=TensorProto.INT64),
        helper.make_node("Mul", ["flag", "Ten"], ["index"]),
        helper.make_node("Gather", ["Zeros", "index"], ["nothing"]),
        helper.make_node("Add", ["logits", "nothing"], ["checked"]),
        helper.make_node("Softmax", ["checked"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in [
        (np.array([-1, 2], np.int64), "flat_shape"),
        (np.array([[1, 0, 1, 0], [0, 0, 0, 0]], np.float32), "Spread"),
        (np.array([0, 1, 0, 1], np.float32), "Count"),
        (np.array([[1, 0, 0], [0, 0.01, 0], [0, 0, 0], [0, 0, 0]], np.float32), "Read"),
        (np.array([[1], [0]], np.float32), "First"),
        (np.array(5, np.float32), "Five"),
        (np.array(10, np.int64), "Ten"),
        (np.zeros(2, np.float32), "Zeros"),
    ]]
    save(helper.make_graph(nodes, name, [features, state], [probabilities, state_out], inits), name + ".onnx")


recurrent_sum_model("recurrent-sum")
