"""The PainFace model format from Python: a JSON config plus a safetensors file.

Only numpy is needed. Used by the converters and the fixture generators.
"""
import json
import os
import struct

import numpy as np

FORMAT = "painface-model/1"


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, array); written as little-endian F32, atomically."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name, arr in tensors:
        a = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif e["dtype"] == "F16":  # painface --float16
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] == "F64":
            a = np.frombuffer(raw, dtype="<f8").astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']} (F32, F16, BF16, F64 are read)")
        out[name] = a.reshape(e["shape"])
    return out


def write_model(stem, config, tensors, metadata=None):
    """Writes STEM.json and STEM.safetensors."""
    config = dict(config)
    config["format"] = FORMAT
    write_safetensors(stem + ".safetensors", tensors, metadata)
    tmp = stem + ".json.tmp"
    with open(tmp, "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")
    os.replace(tmp, stem + ".json")


NORMALIZATIONS = {
    # Keras applications' VGG16 preprocess_input: RGB -> BGR, subtract ImageNet means.
    "caffe": ("bgr", {"scale": 1.0, "offset": 0.0, "mean": [103.939, 116.779, 123.68]}),
    # [-1, 1]
    "tf": ("rgb", {"scale": 2.0 / 255.0, "offset": -1.0}),
    # [0, 1] then ImageNet mean/std
    "torch": ("rgb", {"scale": 1.0 / 255.0, "offset": 0.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}),
    "unit": ("rgb", {"scale": 1.0 / 255.0, "offset": 0.0}),
    "none": ("rgb", {"scale": 1.0, "offset": 0.0}),
}
