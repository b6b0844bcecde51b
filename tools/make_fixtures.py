#!/usr/bin/env python3
"""Generate the golden test fixtures from Keras/TensorFlow (run once; outputs are committed).

  bash tools/setup_venv.sh            # .venv with tensorflow-cpu, h5py, opencv, pillow
  .venv/bin/python tools/make_fixtures.py [--shared ../shared]

Writes into Tests/Fixtures/:
  ops_golden.safetensors      per-layer cases (odd sizes, strides, paddings, groups): input,
                              weights and Keras's output; the cases' layer specs in metadata
  mini_xception_golden.safetensors  real face crops from ../shared/data (MIT / Pexels clips),
                              preprocessed as the fer package does, with Keras's probabilities
                              and 128-value features of the shipped model
  vgg16_gap_fc1024.json       the converted config of a Keras VGG16-GAP-FC1024 (random weights)
  vgg16_gap_fc1024_golden.safetensors  Keras's features and probabilities for two inputs
and into samples/faces/: 224x224 face crops of the MIT and Pexels clips (the demo input).

The VGG16 weights are not committed (61 MB): they and the inputs come from SplitMix64
(`splitmix_uniform`), which Tests/TestSupport reproduces bit for bit.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from painface_format import read_safetensors, write_safetensors  # noqa: E402
import convert_keras  # noqa: E402

FIX = os.path.join(ROOT, "Tests", "Fixtures")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix_uniform(seed, n, lo=-1.0, hi=1.0):
    """n float32 values in [lo, hi): SplitMix64 outputs i = mix(seed + (i + 1) * golden)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    return (u * np.float32(hi - lo) + np.float32(lo)).astype(np.float32)


# ---------------------------------------------------------------- per-op cases

def op_cases():
    import keras
    L = keras.layers
    rs = np.random.default_rng(2024)
    cases = []

    def add(name, layer, spec, shape):
        x = rs.uniform(-1, 1, size=shape).astype(np.float32)
        layer.build(shape)
        ws = []
        for v in layer.weights:
            vname = v.path.split("/")[-1]
            a = rs.uniform(-0.5, 0.5, size=v.shape).astype(np.float32)
            if vname == "moving_variance":
                a = rs.uniform(0.2, 2.0, size=v.shape).astype(np.float32)
            v.assign(a)
            ws.append((vname, a))
        y = np.array(layer(x))
        cases.append((name, spec, x, y, ws))

    def conv(name, shape, filters, k, s=1, padding="valid", d=1, groups=1, bias=True, act="linear"):
        layer = L.Conv2D(filters, k, strides=s, padding=padding, dilation_rate=d, groups=groups,
                         use_bias=bias, activation=act)
        spec = {"type": "conv2d", "filters": filters, "kernel": list(np.broadcast_to(k, 2).tolist()),
                "strides": list(np.broadcast_to(s, 2).tolist()), "dilation": list(np.broadcast_to(d, 2).tolist()),
                "padding": padding, "groups": groups, "use_bias": bias, "activation": act}
        add(name, layer, spec, shape)

    conv("conv_odd_same", (2, 7, 9, 3), 5, 3, padding="same")
    conv("conv_stride2_same_even", (1, 10, 12, 4), 6, 3, s=2, padding="same", act="relu")
    conv("conv_stride2_same_odd", (1, 11, 9, 5), 7, 5, s=2, padding="same")
    conv("conv_valid_nobias", (1, 13, 13, 8), 16, 3, bias=False)
    conv("conv_1x1_s2_same", (1, 9, 9, 8), 16, 1, s=2, padding="same", bias=False)
    conv("conv_dilated", (1, 12, 11, 3), 4, 3, d=2, padding="same")
    conv("conv_grouped", (1, 8, 8, 8), 12, 3, padding="same", groups=4)
    conv("conv_rect", (1, 9, 15, 2), 3, (1, 5), s=(1, 2), padding="same")
    conv("conv_deep", (1, 14, 14, 300), 33, 3, padding="same", act="relu")
    for m, (name, s, p) in enumerate([("dw_same", 1, "same"), ("dw_s2_same", 2, "same"), ("dw_valid_mult2", 1, "valid")]):
        mult = 2 if "mult2" in name else 1
        layer = L.DepthwiseConv2D(3, strides=s, padding=p, depth_multiplier=mult, use_bias=(m != 0))
        add(name, layer, {"type": "depthwise_conv2d", "kernel": [3, 3], "strides": [s, s], "padding": p,
                          "depth_multiplier": mult, "use_bias": m != 0}, (1, 11, 10, 6))
    for name, cls, k, s, p in [("maxpool_same_3s2", L.MaxPooling2D, 3, 2, "same"), ("maxpool_valid_2", L.MaxPooling2D, 2, 2, "valid"),
                               ("maxpool_same_odd", L.MaxPooling2D, 3, 2, "same"), ("avgpool_same_3s2", L.AveragePooling2D, 3, 2, "same"),
                               ("avgpool_valid_2", L.AveragePooling2D, 2, 2, "valid")]:
        shape = (2, 11, 13, 5) if "odd" in name else (1, 12, 12, 4)
        add(name, cls(k, strides=s, padding=p), {"type": "maxpool2d" if cls is L.MaxPooling2D else "avgpool2d",
                                                 "pool": [k, k], "strides": [s, s], "padding": p}, shape)
    add("batchnorm", L.BatchNormalization(epsilon=1e-3), {"type": "batchnorm", "epsilon": 1e-3}, (2, 5, 6, 7))
    add("batchnorm_seq", L.BatchNormalization(epsilon=1e-3), {"type": "batchnorm", "epsilon": 1e-3}, (3, 17))
    add("dense_relu", L.Dense(19, activation="relu"), {"type": "dense", "units": 19, "activation": "relu"}, (5, 23))
    add("dense_1024", L.Dense(1024), {"type": "dense", "units": 1024}, (3, 64))
    add("softmax", L.Softmax(), {"type": "softmax"}, (4, 3))
    add("gap", L.GlobalAveragePooling2D(), {"type": "global_avgpool"}, (2, 7, 5, 9))
    add("prelu", L.PReLU(shared_axes=[1, 2]), {"type": "prelu"}, (1, 4, 5, 6))

    tensors, meta = [], []
    for name, spec, x, y, ws in cases:
        spec = dict(spec, name="L")
        meta.append({"case": name, "layer": spec, "input": list(x.shape)})
        tensors.append((f"{name}/input", x))
        tensors.append((f"{name}/output", y))
        for vname, a in ws:
            if spec["type"] == "prelu":
                a = a.reshape(-1)
            if spec["type"] == "depthwise_conv2d" and vname == "kernel":
                vname = "depthwise_kernel"  # Keras 3 calls it kernel
            tensors.append((f"{name}/L.{vname}", a))
    write_safetensors(os.path.join(FIX, "ops_golden.safetensors"), tensors,
                      {"cases": json.dumps(meta), "generator": "tools/make_fixtures.py (Keras %s)" % keras.__version__})
    print(f"ops_golden: {len(cases)} cases")


# ---------------------------------------------------------------- real faces

FACE_VIDEOS = ["cap12_t010s", "cap13_t005s", "wolfganglanger_t000s"]  # MIT, MIT, Pexels


def face_crops(shared):
    """Largest Haar face per frame, squared with a 20% margin; returns [(video, frame, rgb crop)]."""
    import cv2
    cascade = cv2.CascadeClassifier(os.path.join(shared, "models/opencv-haar/haarcascade_frontalface_default.xml"))
    out = []
    for v in FACE_VIDEOS:
        for frame in range(1, 301, 37):
            path = os.path.join(shared, "data/video_frame_sequences", v, f"frame_{frame:05d}.jpg")
            bgr = cv2.imread(path)
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            faces = cascade.detectMultiScale(gray, 1.1, 5, minSize=(40, 40))
            if len(faces) == 0:
                continue
            x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
            cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.2
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            s = int(round(side))
            padded = cv2.copyMakeBorder(bgr, s, s, s, s, cv2.BORDER_CONSTANT, value=0)
            crop = padded[y0 + s:y0 + 2 * s, x0 + s:x0 + 2 * s]
            crop = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA)
            out.append((v, frame, cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)))
    return out


def mini_xception(shared, crops):
    import cv2
    import keras
    model = keras.models.load_model(os.path.join(shared, "models/fer-mini-xception/emotion_model.hdf5"), compile=False)
    feat = keras.Model(model.inputs, keras.layers.GlobalAveragePooling2D()(model.get_layer("add_4").output))
    xs = []
    for _, _, rgb in crops:
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        g = cv2.resize(g, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        xs.append(((g / 255.0 - 0.5) * 2.0)[:, :, None])
    x = np.stack(xs).astype(np.float32)
    probs = np.array(model(x))
    feats = np.array(feat(x))
    write_safetensors(os.path.join(FIX, "mini_xception_golden.safetensors"),
                      [("input", x), ("probabilities", probs), ("features", feats)],
                      {"frames": json.dumps([f"{v}/frame_{f:05d}" for v, f, _ in crops]),
                       "source": "faces from ../shared/data/video_frame_sequences (MIT, Pexels), Keras %s" % keras.__version__})
    print(f"mini_xception_golden: {len(xs)} faces, top classes {probs.argmax(1).tolist()}")


def save_samples(crops):
    import cv2
    for v, f, rgb in crops:
        d = os.path.join(ROOT, "samples", "faces", v)
        os.makedirs(d, exist_ok=True)
        cv2.imwrite(os.path.join(d, f"frame_{f:05d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


# ---------------------------------------------------------------- VGG16-GAP-FC1024

VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


def vgg_model():
    import keras
    L = keras.layers
    x = inp = keras.Input((224, 224, 3), name="image")
    block, conv = 1, 1
    for v in VGG_CFG:
        if v == "M":
            x = L.MaxPooling2D(2, 2, name=f"block{block}_pool")(x)
            block, conv = block + 1, 1
        else:
            x = L.Conv2D(v, 3, padding="same", activation="relu", name=f"block{block}_conv{conv}")(x)
            conv += 1
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(1024, activation="relu", name="fc1024")(x)
    x = L.Dropout(0.5, name="dropout")(x)
    out = L.Dense(2, activation="softmax", name="pain")(x)
    return keras.Model(inp, out)


def vgg_weights(model):
    """Deterministic He-uniform weights from SplitMix64: tensor k uses seed 1000 + k."""
    ws = []
    for k, v in enumerate(model.weights):
        shape = tuple(v.shape)
        if len(shape) == 1:
            a = splitmix_uniform(1000 + k, shape[0], -0.1, 0.1)
        else:
            fan_in = int(np.prod(shape[:-1]))
            lim = np.float32(np.sqrt(6.0 / fan_in))
            a = splitmix_uniform(1000 + k, int(np.prod(shape)), -1.0, 1.0).reshape(shape) * lim
        ws.append(a.astype(np.float32))
    return ws


def vgg(shared):
    import keras
    model = vgg_model()
    ws = vgg_weights(model)
    model.set_weights(ws)
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "vgg16_gap_fc1024.h5")
        model.save(h5)
        config, tensors = convert_keras.convert(h5, name="vgg16-gap-fc1024")
    # The converter must give back exactly the weights we set (so the Swift test can
    # regenerate them instead of committing 61 MB).
    names = [t[0] for t in tensors]
    for (name, a), w in zip(tensors, ws):
        assert a.shape == w.shape and np.array_equal(a, w), name
    config["source"] = "Keras VGG16-GAP-FC1024 with SplitMix64 weights (tools/make_fixtures.py)"
    with open(os.path.join(FIX, "vgg16_gap_fc1024.json"), "w") as f:
        json.dump(dict(config, format="painface-model/1"), f, indent=1)
    x = np.stack([splitmix_uniform(7, 224 * 224 * 3, 0.0, 255.0).reshape(224, 224, 3),
                  splitmix_uniform(8, 224 * 224 * 3, 0.0, 255.0).reshape(224, 224, 3)])
    x = x - np.array([103.939, 116.779, 123.68], np.float32)  # caffe-style, as the config says
    x = x.astype(np.float32)
    feat = keras.Model(model.inputs, model.get_layer("fc1024").output)
    f = np.array(feat(x))
    p = np.array(model(x))
    write_safetensors(os.path.join(FIX, "vgg16_gap_fc1024_golden.safetensors"),
                      [("features", f), ("probabilities", p)],
                      {"weights": "tensor k in config order: SplitMix64 seed 1000+k; kernels He-uniform "
                                  "limit sqrt(6/fan_in), biases uniform [-0.1, 0.1)",
                       "tensor_order": json.dumps(names),
                       "inputs": "SplitMix64 seeds 7 and 8, uniform [0, 255) HWC, minus [103.939, 116.779, 123.68]",
                       "keras": keras.__version__})
    print(f"vgg16: features[0][:4] = {f[0][:4]}, sum = {f.astype(np.float64).sum():.6f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--only", default="ops,faces,vgg")
    a = ap.parse_args()
    os.makedirs(FIX, exist_ok=True)
    only = a.only.split(",")
    if "ops" in only:
        op_cases()
    if "faces" in only:
        crops = face_crops(a.shared)
        save_samples(crops)
        mini_xception(a.shared, crops)
    if "vgg" in only:
        vgg(a.shared)


if __name__ == "__main__":
    main()
