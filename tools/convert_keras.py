#!/usr/bin/env python3
"""Convert a full Keras model saved as .h5 (Keras 2 or Keras 3) into PainFace's format.

Needs only h5py and numpy (no TensorFlow). Reads the architecture from the file's
model_config and the weights from model_weights.

  python3 tools/convert_keras.py model.h5 OUT_STEM [--features LAYER] [--normalization caffe]
      [--color gray] [--classes a,b,c] [--name NAME]

writes OUT_STEM.json and OUT_STEM.safetensors. Unsupported layers stop the conversion with
a message naming them.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painface_format import NORMALIZATIONS, write_model  # noqa: E402

PASSTHROUGH = {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "ActivityRegularization"}


def inbound_names(layer):
    """Input layer names of a functional-model layer, for Keras 2 and Keras 3 configs."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    node = nodes[0]
    names = []
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        return [x[0] for x in node]

    def walk(v):
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                names.append(v["config"]["keras_history"][0])
            else:
                for x in v.values():
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(node.get("args", []))
    return names


class LayerWeights(dict):
    """A layer's weights; a missing one ends the conversion with a message naming it."""

    def __init__(self, path, layer):
        super().__init__()
        self.path, self.layer = path, layer

    def __missing__(self, kind):
        sys.exit(f"{self.path}: layer {self.layer}: no {kind} weight in the file (saved without weights?)")


def layer_weights(f, name, path="model"):
    """{kind: array} for a layer, kind = last path component without ':0'."""
    g = f["model_weights"] if "model_weights" in f else f
    out = LayerWeights(path, name)
    if name not in g:
        return out
    grp = g[name]
    for wn in grp.attrs.get("weight_names", []):
        wn = wn.decode() if isinstance(wn, bytes) else wn
        kind = wn.split("/")[-1].split(":")[0]
        out[kind] = np.array(grp[wn], dtype=np.float32)
    return out


def as_pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def convert(path, features=None, normalization=None, color=None, classes=None, name=None, features_gap=False,
            h5=None):
    """(config, tensors) of the model in `path`; `h5` stands in for the opened file (tests)."""
    if h5 is None:
        if not os.path.exists(path):
            sys.exit(f"{path}: no such file")
        if path.endswith(".keras"):
            sys.exit(f"{path}: a .keras archive; save the whole model as .h5 (model.save('model.h5')) to convert it")
        try:
            import h5py  # only the command needs it, not the tests' stand-in
        except ImportError:
            sys.exit("convert_keras.py needs h5py and numpy: pip install h5py numpy")
        try:
            h5 = h5py.File(path, "r")
        except OSError as e:
            sys.exit(f"{path}: not a readable HDF5 (.h5) file ({e})")
    f = h5
    if "model_config" not in f.attrs:
        sys.exit(f"{path}: weights only (no model_config): save the whole model (model.save), not save_weights")
    try:
        cfg = json.loads(f.attrs["model_config"])
        top = cfg["config"]
        klayers = top["layers"]
    except (ValueError, KeyError, TypeError) as e:
        sys.exit(f"{path}: the model_config is not a Keras model description ({e!r})")
    sequential = cfg["class_name"] == "Sequential"
    layers, tensors = [], []
    alias = {}  # removed layer name -> the layer whose output it is
    input_shape = None
    prev = "input"
    rank = {"input": 4}  # tensor rank per layer output (batch included): NHWC until flattened

    def src(n):
        """The layer whose output `n` is, following removed layers; a cycle is an error."""
        seen = []
        while n in alias:
            if n in seen:
                sys.exit(f"{path}: the layer graph has a cycle: {' -> '.join(seen + [n])}")
            seen.append(n)
            n = alias[n]
        return n

    for kl in klayers:
        cls, c = kl["class_name"], kl["config"]
        lname = c.get("name", kl.get("name"))
        ins = [src(n) for n in inbound_names(kl)] if not sequential else [prev]
        if cls == "InputLayer":
            shape = c.get("batch_input_shape") or c.get("batch_shape")
            input_shape = shape[1:]
            if lname != "input":  # an input layer named "input" is the graph's input already
                alias[lname] = "input"
            prev = "input"
            continue
        if sequential and input_shape is None:
            shape = c.get("batch_input_shape") or c.get("batch_shape")
            if shape:
                input_shape = shape[1:]
        if lname == "input":
            sys.exit(f"{path}: a {cls} layer is named input, the name of the model's input: rename it")
        if cls in ("Functional", "Sequential", "Model"):
            sys.exit(f"{path}: nested model {lname} is not supported: save the flattened model")
        if c.get("data_format", "channels_last") != "channels_last":
            sys.exit(f"{path}: layer {lname}: only channels_last is supported")
        w = layer_weights(f, lname, path)
        act = c.get("activation", "linear")
        post = None  # an activation emitted as its own layer
        if act not in ("linear", "relu"):
            if act != "softmax":
                sys.exit(f"{path}: layer {lname}: activation {act} is not supported")
            post, act = "softmax", "linear"
        L = {"name": lname, "inputs": ins}
        in_rank = rank.get(ins[0], 4) if ins else 4
        if cls == "Conv2D":
            L.update(type="conv2d", filters=c["filters"], kernel=as_pair(c["kernel_size"]),
                     strides=as_pair(c["strides"]), dilation=as_pair(c.get("dilation_rate", 1)),
                     padding=c["padding"], groups=c.get("groups", 1), use_bias=c["use_bias"], activation=act)
            tensors.append((f"{lname}.kernel", w["kernel"]))
        elif cls == "DepthwiseConv2D":
            L.update(type="depthwise_conv2d", kernel=as_pair(c["kernel_size"]), strides=as_pair(c["strides"]),
                     dilation=as_pair(c.get("dilation_rate", 1)), padding=c["padding"],
                     depth_multiplier=c.get("depth_multiplier", 1), use_bias=c["use_bias"], activation=act)
            tensors.append((f"{lname}.depthwise_kernel", w.get("depthwise_kernel", w.get("kernel"))))
        elif cls == "SeparableConv2D":
            dw = lname + "_depthwise"
            layers.append({"name": dw, "inputs": ins, "type": "depthwise_conv2d", "kernel": as_pair(c["kernel_size"]),
                           "strides": as_pair(c["strides"]), "dilation": as_pair(c.get("dilation_rate", 1)),
                           "padding": c["padding"], "depth_multiplier": c.get("depth_multiplier", 1),
                           "use_bias": False})
            tensors.append((f"{dw}.depthwise_kernel", w["depthwise_kernel"]))
            L.update(inputs=[dw], type="conv2d", filters=c["filters"], kernel=[1, 1], padding="valid",
                     use_bias=c["use_bias"], activation=act)
            tensors.append((f"{lname}.kernel", w["pointwise_kernel"]))
        elif cls == "Dense":
            L.update(type="dense", units=c["units"], use_bias=c["use_bias"], activation=act)
            tensors.append((f"{lname}.kernel", w["kernel"]))
        elif cls == "BatchNormalization":
            axis = c.get("axis", -1)
            axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
            # PainFace normalises over channels, the last axis; any other axis would convert wrongly
            if not isinstance(axis, int) or (axis + in_rank if axis < 0 else axis) != in_rank - 1:
                sys.exit(f"{path}: layer {lname}: batch normalisation over axis {axis} of a rank-{in_rank} tensor "
                         "is not supported (only the channel axis, -1)")
            L.update(type="batchnorm", epsilon=c.get("epsilon", 1e-3), center=c.get("center", True),
                     scale=c.get("scale", True))
            for k in ("gamma", "beta", "moving_mean", "moving_variance"):
                if k in w:
                    tensors.append((f"{lname}.{k}", w[k]))
        elif cls == "Activation":
            if act == "linear" and post is None:
                alias[lname] = ins[0]
                continue
            L.update(type="relu" if act == "relu" else "softmax")
            post = None
        elif cls == "ReLU":
            if c.get("max_value") is not None or c.get("negative_slope", 0) or c.get("threshold", 0):
                sys.exit(f"{path}: layer {lname}: only a plain ReLU is supported")
            L.update(type="relu")
        elif cls == "Softmax":
            L.update(type="softmax")
        elif cls == "PReLU":
            L.update(type="prelu")
            tensors.append((f"{lname}.alpha", w["alpha"].reshape(-1)))
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            L.update(type="maxpool2d" if cls == "MaxPooling2D" else "avgpool2d", pool=as_pair(c["pool_size"]),
                     strides=as_pair(c["strides"] or c["pool_size"]), padding=c["padding"])
        elif cls == "GlobalAveragePooling2D":
            if c.get("keepdims"):
                sys.exit(f"{path}: layer {lname}: keepdims is not supported")
            L.update(type="global_avgpool")
        elif cls == "Flatten":
            L.update(type="flatten")
        elif cls == "Add":
            if len(ins) != 2:
                sys.exit(f"{path}: layer {lname}: only two-input Add is supported")
            L.update(type="add")
        elif cls in PASSTHROUGH:
            alias[lname] = ins[0]
            continue
        else:
            sys.exit(f"{path}: layer {lname}: Keras layer type {cls} is not supported")
        if "bias" in w and L.get("use_bias", False):
            tensors.append((f"{lname}.bias", w["bias"]))
        layers.append(L)
        rank[lname] = 2 if L["type"] in ("flatten", "global_avgpool") else in_rank
        prev = lname
        if post:
            layers.append({"name": lname + "_softmax", "inputs": [lname], "type": "softmax"})
            alias[lname] = lname + "_softmax"
            prev = lname + "_softmax"

    if input_shape is None or len(input_shape) != 3 or None in input_shape:
        sys.exit(f"{path}: the model needs a fixed H x W x C input, got {input_shape}")
    last = src(prev)
    probs = last if layers[-1]["type"] == "softmax" else None
    if features is None:
        dense1024 = [l["name"] for l in layers if l["type"] == "dense" and l["units"] == 1024]
        features = dense1024[-1] if dense1024 else last
    if features not in {l["name"] for l in layers}:
        features = src(features)
    if features_gap:
        # e.g. mini-Xception: the global average of its last 128-channel block
        layers.append({"name": "features", "inputs": [features], "type": "global_avgpool"})
        features = "features"
    ch = input_shape[2]
    if normalization is None:
        normalization = "tf" if ch == 1 else "caffe"
    col, norm = NORMALIZATIONS[normalization]
    if ch == 1:
        col = "gray"
        norm = {k: v for k, v in norm.items() if k not in ("mean", "std")}
    config = {
        "name": name or path.split("/")[-1].rsplit(".", 1)[0],
        "source": f"{path.split('/')[-1]}"
        + (f" (sha256 {hashlib.sha256(open(path, 'rb').read()).hexdigest()[:16]})" if os.path.exists(path) else ""),
        "input": {"height": input_shape[0], "width": input_shape[1], "channels": ch,
                  "color": color or col, "normalization": norm},
        "layers": layers,
        "outputs": {"features": features, **({"probabilities": probs} if probs else {})},
    }
    if classes:
        config["classes"] = classes
    return config, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("h5")
    ap.add_argument("out_stem")
    ap.add_argument("--features", help="layer whose output is the feature vector (default: the last "
                    "1024-unit dense layer, else the last layer)")
    ap.add_argument("--features-gap", action="store_true", help="global-average-pool the features layer "
                    "(for a spatial layer) into a new layer named features")
    ap.add_argument("--normalization", choices=sorted(NORMALIZATIONS), help="pixel normalisation "
                    "(default: caffe for RGB, tf for grey)")
    ap.add_argument("--color", choices=["rgb", "bgr", "gray"])
    ap.add_argument("--classes", help="comma-separated class names")
    ap.add_argument("--name")
    a = ap.parse_args()
    config, tensors = convert(a.h5, a.features, a.normalization, a.color,
                              a.classes.split(",") if a.classes else None, a.name, a.features_gap)
    write_model(a.out_stem, config, tensors, {"converted_from": a.h5.split("/")[-1]})
    n = sum(t.size for _, t in tensors)
    print(f"wrote {a.out_stem}.json and {a.out_stem}.safetensors: {len(config['layers'])} layers, "
          f"{n:,} parameters, features = {config['outputs']['features']}")


if __name__ == "__main__":
    main()
