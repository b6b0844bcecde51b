#!/usr/bin/env python3
"""Convert a PyTorch state_dict plus an architecture description into PainFace's format.

  python3 tools/convert_torch.py weights.pt arch.json OUT_STEM [--map map.json]

arch.json is a PainFace model config (see models/README.md) that names the layers; each
layer with weights takes them from the state_dict entries "<prefix>.weight", "<prefix>.bias"
(and running_mean / running_var for batch normalisation), where prefix is the layer name or
what map.json says ({"painface_layer": "torch.prefix"}). Layouts are converted:

  conv2d            weight [O, I/g, kh, kw]  -> kernel [kh, kw, I/g, O]
  depthwise_conv2d  weight [C*m, 1, kh, kw]  -> depthwise_kernel [kh, kw, C, m]
  dense             weight [out, in]         -> kernel [in, out]; after a flatten of an
                    H x W x C map, rows are reordered from PyTorch's (c, h, w) to (h, w, c)
                    ("torch_order": "whc" on the flatten layer for a permute(0, 3, 2, 1))
  batchnorm         weight, bias, running_mean, running_var -> gamma, beta, moving_*
                    (set "epsilon" in arch.json: PyTorch's default is 1e-5)
  prelu             weight [C] or [1]        -> alpha [C]

Needs torch (to read the .pt) and numpy.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painface_format import write_model  # noqa: E402


def pair(v, default):
    if v is None:
        return [default, default]
    return [v, v] if isinstance(v, int) else list(v) * (2 // len(v))


def pads(padding, h, w, k, s, d):
    if padding in (None, "valid"):
        return 0, 0, 0, 0
    if padding == "same":
        def one(n, k, s, d):
            out = (n + s - 1) // s
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            return total // 2, total - total // 2
        t, b = one(h, k[0], s[0], d[0])
        l, r = one(w, k[1], s[1], d[1])
        return t, l, b, r
    p = list(padding)
    if len(p) == 1:
        p = p * 4
    if len(p) == 2:
        p = [p[0], p[1], p[0], p[1]]
    return tuple(p)


def pool_out(n, k, s, lo, hi, ceil):
    span = n + lo + hi - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + lo:
        out -= 1
    return out


def infer_shapes(config):
    """Per-layer output shape (h, w, c) or (c,), to place flatten permutations."""
    inp = config["input"]
    shapes = {"input": (inp["height"], inp["width"], inp["channels"])}
    prev = "input"
    for l in config["layers"]:
        ins = l.get("inputs") or [prev]
        x = shapes[ins[0]]
        t = l["type"]
        if t in ("conv2d", "depthwise_conv2d"):
            k, s, d = pair(l.get("kernel"), 1), pair(l.get("strides"), 1), pair(l.get("dilation"), 1)
            pt, pl, pb, pr = pads(l.get("padding"), x[0], x[1], k, s, d)
            oh = (x[0] + pt + pb - (k[0] - 1) * d[0] - 1) // s[0] + 1
            ow = (x[1] + pl + pr - (k[1] - 1) * d[1] - 1) // s[1] + 1
            c = l["filters"] if t == "conv2d" else x[2] * l.get("depth_multiplier", 1)
            shapes[l["name"]] = (oh, ow, c)
        elif t in ("maxpool2d", "avgpool2d"):
            k = pair(l.get("pool"), 1)
            s = pair(l.get("strides"), k[0]) if l.get("strides") else k
            pt, pl, pb, pr = pads(l.get("padding"), x[0], x[1], k, s, (1, 1))
            ceil = l.get("ceil_mode", False)
            shapes[l["name"]] = (pool_out(x[0], k[0], s[0], pt, pb, ceil), pool_out(x[1], k[1], s[1], pl, pr, ceil), x[2])
        elif t == "global_avgpool":
            shapes[l["name"]] = (x[2],)
        elif t == "flatten":
            shapes[l["name"]] = (int(np.prod(x)),)
        elif t == "dense":
            shapes[l["name"]] = tuple(x[:-1]) + (l["units"],)
        else:
            shapes[l["name"]] = x
        prev = l["name"]
    return shapes


def first_inputs(config):
    """Layer name -> the name of its first input."""
    out, prev = {}, "input"
    for l in config["layers"]:
        out[l["name"]] = (l.get("inputs") or [prev])[0]
        prev = l["name"]
    return out


def convert(state, config, mapping):
    shapes = infer_shapes(config)
    by_name = {l["name"]: l for l in config["layers"]}
    input_of = first_inputs(config)
    tensors, used = [], set()
    prev = "input"

    def get(prefix, key):
        name = f"{prefix}.{key}"
        if name not in state:
            sys.exit(f"state_dict has no {name} (layer {prefix}); use --map to name the prefix")
        used.add(name)
        return state[name].detach().cpu().numpy().astype(np.float32) if hasattr(state[name], "detach") else np.asarray(state[name], np.float32)

    for l in config["layers"]:
        n, t = l["name"], l["type"]
        prefix = mapping.get(n, n)
        ins = l.get("inputs") or [prev]
        if t == "conv2d":
            tensors.append((f"{n}.kernel", get(prefix, "weight").transpose(2, 3, 1, 0)))
            if l.get("use_bias", True):
                tensors.append((f"{n}.bias", get(prefix, "bias")))
        elif t == "depthwise_conv2d":
            w = get(prefix, "weight")  # [C*m, 1, kh, kw]
            m = l.get("depth_multiplier", 1)
            c = w.shape[0] // m
            tensors.append((f"{n}.depthwise_kernel", w.reshape(c, m, w.shape[2], w.shape[3]).transpose(2, 3, 0, 1)))
            if l.get("use_bias", True):
                tensors.append((f"{n}.bias", get(prefix, "bias")))
        elif t == "dense":
            w = get(prefix, "weight")  # [out, in]
            src = by_name.get(ins[0])
            if src is not None and src["type"] == "flatten":
                h, wd, c = shapes[input_of[src["name"]]]
                # PyTorch flattens NCHW as (c, h, w), or (w, h, c) after permute(0, 3, 2, 1) as
                # facenet-pytorch's MTCNN does ("torch_order": "whc" on the flatten layer);
                # PainFace (Keras) flattens (h, w, c)
                order = src.get("torch_order", "chw")
                if order == "chw":
                    w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
                elif order == "whc":
                    w = w.reshape(w.shape[0], wd, h, c).transpose(0, 2, 1, 3).reshape(w.shape[0], -1)
                elif order != "hwc":
                    sys.exit(f"flatten {src['name']}: torch_order must be chw, whc or hwc")
            tensors.append((f"{n}.kernel", np.ascontiguousarray(w.T)))
            if l.get("use_bias", True):
                tensors.append((f"{n}.bias", get(prefix, "bias")))
        elif t == "batchnorm":
            if l.get("scale", True):
                tensors.append((f"{n}.gamma", get(prefix, "weight")))
            if l.get("center", True):
                tensors.append((f"{n}.beta", get(prefix, "bias")))
            tensors.append((f"{n}.moving_mean", get(prefix, "running_mean")))
            tensors.append((f"{n}.moving_variance", get(prefix, "running_var")))
            used.add(f"{prefix}.num_batches_tracked")
        elif t == "prelu":
            a = get(prefix, "weight").reshape(-1)
            c = shapes[n][-1]
            tensors.append((f"{n}.alpha", np.broadcast_to(a, (c,)).copy() if a.size == 1 else a))
        prev = n
    for l in config["layers"]:
        l.pop("torch_order", None)   # a conversion hint, not part of the model
    unused = sorted(k for k in state if k not in used)
    if unused:
        print(f"note: state_dict entries not used: {', '.join(unused)}", file=sys.stderr)
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state_dict")
    ap.add_argument("arch")
    ap.add_argument("out_stem")
    ap.add_argument("--map", help="JSON object: PainFace layer name -> state_dict prefix")
    a = ap.parse_args()
    import torch
    state = torch.load(a.state_dict, map_location="cpu", weights_only=True)
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    with open(a.arch) as f:
        config = json.load(f)
    mapping = {}
    if a.map:
        with open(a.map) as f:
            mapping = json.load(f)
    tensors = convert(state, config, mapping)
    write_model(a.out_stem, config, tensors, {"converted_from": os.path.basename(a.state_dict)})
    print(f"wrote {a.out_stem}.json and {a.out_stem}.safetensors: {sum(t.size for _, t in tensors):,} parameters")


if __name__ == "__main__":
    main()
