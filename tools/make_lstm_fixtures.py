#!/usr/bin/env python3
"""Keras training reference for the LSTM network (run once; committed).

  .venv/bin/python tools/make_lstm_fixtures.py

The paper's LSTM network (BN, LSTM 32 with sequences, BN, dropout, LSTM 16, BN, dropout,
dense 16 ReLU, dense 3 softmax) on sequences of 10 steps x 12 features, batch 8, dropout 0,
20 Adadelta steps (lr 1.0, rho 0.95, eps 1e-7) with class weights; weights from SplitMix64
(variable k, in model.weights order, seed 4000 + k, see `init`). Writes
Tests/Fixtures/lstm_keras.safetensors.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from make_fixtures import splitmix_uniform  # noqa: E402
from painface_format import write_safetensors  # noqa: E402

T, F, B, STEPS = 10, 12, 8, 20


def init(name, shape, k):
    n = int(np.prod(shape))
    seed = 4000 + k
    if name == "gamma":
        return 1 + splitmix_uniform(seed, n, -0.2, 0.2).reshape(shape)
    if name in ("beta", "bias"):
        return splitmix_uniform(seed, n, -0.1, 0.1).reshape(shape)
    if name == "moving_mean":
        return np.zeros(shape, np.float32)
    if name == "moving_variance":
        return np.ones(shape, np.float32)
    if name == "recurrent_kernel":
        return splitmix_uniform(seed, n, -0.3, 0.3).reshape(shape)
    lim = np.float32(np.sqrt(6.0 / (shape[0] + shape[1])))
    return (splitmix_uniform(seed, n, -1.0, 1.0) * lim).reshape(shape)


def main():
    import keras
    L = keras.layers
    model = keras.Sequential([keras.Input((T, F)), L.BatchNormalization(), L.LSTM(32, return_sequences=True),
                              L.BatchNormalization(), L.Dropout(0.0), L.LSTM(16), L.BatchNormalization(), L.Dropout(0.0),
                              L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    names = [v.path.split("/")[-1] for v in model.weights]
    weights = [init(n, tuple(v.shape), k).astype(np.float32) for k, (n, v) in enumerate(zip(names, model.weights))]
    model.set_weights(weights)
    x = splitmix_uniform(5000, STEPS * B * T * F, -1.5, 2.5).reshape(STEPS, B, T, F)
    u = splitmix_uniform(5001, STEPS * B, 0.0, 1.0)
    y = np.where(u < 0.5, 0, np.where(u < 0.8, 1, 2)).astype(np.int32).reshape(STEPS, B)
    counts = np.bincount(y.reshape(-1), minlength=3)
    cw = (y.size / (3 * counts)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7), loss="categorical_crossentropy")
    losses = [float(model.train_on_batch(x[s], np.eye(3, dtype=np.float32)[y[s]], sample_weight=cw[y[s]])) for s in range(STEPS)]
    tensors = [("x", x.astype(np.float32)), ("labels", y.astype(np.float32)), ("class_weights", cw), ("losses", np.array(losses, np.float32))]
    for i, w in enumerate(model.get_weights()):
        tensors.append((f"final_{i}", np.asarray(w, np.float32)))
    write_safetensors(os.path.join(ROOT, "Tests", "Fixtures", "lstm_keras.safetensors"), tensors,
                      {"variables": json.dumps([[n, list(v.shape)] for n, v in zip(names, model.weights)]),
                       "shape": json.dumps([T, F, B, STEPS]), "keras": keras.__version__})
    print("variables", [(n, tuple(v.shape)) for n, v in zip(names, model.weights)])
    print("losses", losses[:3], losses[-1])


if __name__ == "__main__":
    main()
