"""The Keras converter's graph walking on model configs of Keras 2 and Keras 3 (no h5py:
a stand-in for the opened file). Run: python3 -m unittest discover tools/tests"""
import json
import os
import signal
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import convert_keras  # noqa: E402


class Group(dict):
    def __init__(self, items=(), attrs=None):
        super().__init__(items)
        self.attrs = attrs or {}


def h5(config, weights):
    """A stand-in for h5py.File: model_config, and model_weights/<layer>/<name> arrays."""
    groups = Group()
    for layer, arrays in weights.items():
        names = [f"{layer}/{k}:0" for k in arrays]
        groups[layer] = Group({f"{layer}/{k}:0": v for k, v in arrays.items()}, {"weight_names": names})
    return Group({"model_weights": groups}, {"model_config": json.dumps(config)})


def k3_input(name):
    return {"class_name": "InputLayer", "config": {"name": name, "batch_shape": [None, 4, 4, 1]}, "inbound_nodes": []}


def k3_node(*names):
    return [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}} for n in names]}]


def k3_layer(cls, name, inputs, **cfg):
    return {"class_name": cls, "config": {"name": name, **cfg}, "inbound_nodes": k3_node(*inputs)}


def k2_layer(cls, name, inputs, **cfg):
    return {"class_name": cls, "config": {"name": name, **cfg},
            "inbound_nodes": [[[n, 0, 0, {}] for n in inputs]] if inputs else []}


CONV = dict(filters=2, kernel_size=[3, 3], strides=[1, 1], padding="same", use_bias=True, activation="relu")
W = {"conv": {"kernel": np.ones((3, 3, 1, 2), np.float32), "bias": np.zeros(2, np.float32)},
     "fc": {"kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)}}


def run(config):
    signal.alarm(10)  # a graph walk that loops fails the test instead of hanging it
    try:
        return convert_keras.convert("model.h5", h5=h5(config, W), normalization="unit")
    finally:
        signal.alarm(0)


class GraphTests(unittest.TestCase):
    def keras3(self, input_name):
        layers = [k3_input(input_name), k3_layer("Conv2D", "conv", [input_name], **CONV),
                  k3_layer("Dropout", "drop", ["conv"], rate=0.3),
                  k3_layer("GlobalAveragePooling2D", "gap", ["drop"]),
                  k3_layer("Dense", "fc", ["gap"], units=3, use_bias=True, activation="softmax")]
        return {"class_name": "Functional", "config": {"layers": layers}}

    def test_input_layer_named_input_converts(self):
        config, tensors = run(self.keras3("input"))
        self.assertEqual([l["name"] for l in config["layers"]], ["conv", "gap", "fc", "fc_softmax"])
        self.assertEqual(config["layers"][0]["inputs"], ["input"])
        self.assertEqual(config["layers"][1]["inputs"], ["conv"])  # the dropout removed
        self.assertEqual(config["outputs"]["probabilities"], "fc_softmax")
        self.assertEqual(len(tensors), 4)

    def test_keras2_and_keras3_configs_give_the_same_model(self):
        layers = [{"class_name": "InputLayer", "config": {"name": "image", "batch_input_shape": [None, 4, 4, 1]},
                   "inbound_nodes": []},
                  k2_layer("Conv2D", "conv", ["image"], **CONV), k2_layer("Dropout", "drop", ["conv"], rate=0.3),
                  k2_layer("GlobalAveragePooling2D", "gap", ["drop"]),
                  k2_layer("Dense", "fc", ["gap"], units=3, use_bias=True, activation="softmax")]
        k2, _ = run({"class_name": "Model", "config": {"layers": layers}})
        k3, _ = run(self.keras3("image"))
        self.assertEqual(k2["layers"], k3["layers"])
        self.assertEqual(k2["input"], k3["input"])

    def test_a_cycle_is_refused_with_a_message(self):
        layers = [k3_input("image"), k3_layer("Dropout", "a", ["b"], rate=0.1), k3_layer("Dropout", "b", ["a"], rate=0.1),
                  k3_layer("Conv2D", "conv", ["a"], **CONV)]
        with self.assertRaises(SystemExit) as e:
            run({"class_name": "Functional", "config": {"layers": layers}})
        self.assertIn("cycle", str(e.exception))

    def test_a_layer_named_input_is_refused(self):
        layers = [k3_input("image"), k3_layer("Conv2D", "input", ["image"], **CONV)]
        with self.assertRaises(SystemExit) as e:
            run({"class_name": "Functional", "config": {"layers": layers}})
        self.assertIn("named input", str(e.exception))


if __name__ == "__main__":
    unittest.main()


class BrokenFileTests(unittest.TestCase):
    def exits(self, fn):
        with self.assertRaises(SystemExit) as e:
            fn()
        return str(e.exception)

    def test_weights_only_file(self):
        f = Group({"model_weights": Group()}, {})
        self.assertIn("weights only", self.exits(lambda: convert_keras.convert("w.h5", h5=f)))

    def test_missing_layer_weights(self):
        layers = [k3_input("image"), k3_layer("Conv2D", "conv", ["image"], **CONV)]
        f = h5({"class_name": "Functional", "config": {"layers": layers}}, {})
        self.assertIn("layer conv: no kernel weight", self.exits(lambda: convert_keras.convert("m.h5", h5=f)))

    def test_not_a_model_config(self):
        f = Group({}, {"model_config": "[1, 2"})
        self.assertIn("not a Keras model description", self.exits(lambda: convert_keras.convert("m.h5", h5=f)))

    def test_batch_norm_only_over_channels(self):
        bn = {"gamma": np.ones(2, np.float32), "beta": np.zeros(2, np.float32),
              "moving_mean": np.zeros(2, np.float32), "moving_variance": np.ones(2, np.float32)}

        def model(axis, after_gap):
            layers = [k3_input("image"), k3_layer("Conv2D", "conv", ["image"], **CONV)]
            if after_gap:
                layers.append(k3_layer("GlobalAveragePooling2D", "gap", ["conv"]))
            layers.append(k3_layer("BatchNormalization", "bn", [layers[-1]["config"]["name"]], axis=axis))
            return h5({"class_name": "Functional", "config": {"layers": layers}}, {**W, "bn": bn})

        convert_keras.convert("m.h5", h5=model(-1, False), normalization="unit")
        convert_keras.convert("m.h5", h5=model(3, False), normalization="unit")
        convert_keras.convert("m.h5", h5=model(1, True), normalization="unit")  # (batch, channels): axis 1 is it
        for axis in (1, 2, [1, 2]):
            msg = self.exits(lambda: convert_keras.convert("m.h5", h5=model(axis, False), normalization="unit"))
            self.assertIn(f"layer bn: batch normalisation over axis {axis} of a rank-4 tensor", msg)

    def test_missing_and_keras3_archive_paths(self):
        self.assertIn("no such file", self.exits(lambda: convert_keras.convert("/nonexistent/m.h5")))
        here = os.path.abspath(__file__)
        keras = here + ".keras"
        open(keras, "w").close()
        try:
            self.assertIn(".keras archive", self.exits(lambda: convert_keras.convert(keras)))
        finally:
            os.remove(keras)
