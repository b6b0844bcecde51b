#!/usr/bin/env python3
"""Writes a PainFace model (a painface-model/1 JSON config and its safetensors weights) as a flat
graph for tools/neon_model/model_driver.c, plus the raw inputs and outputs of a golden file:
the whole-model check over the C core alone (natively and under qemu-aarch64), where no Swift
toolchain runs. Standard library only.

usage: export.py MODEL.json MODEL.safetensors GOLDEN.safetensors OUTDIR
"""
import json
import math
import os
import struct
import sys


def safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return header, data


def same_pads(size, k, s, d=1):
    """Keras 'same': the total padding, the smaller half first."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def main():
    cfg_path, weights_path, golden_path, out = sys.argv[1:5]
    cfg = json.load(open(cfg_path))
    header, data = safetensors(weights_path)
    for name, t in header.items():
        if t["dtype"] != "F32":
            sys.exit(f"{weights_path}: {name} is {t['dtype']}, the driver reads F32 only")

    def off(name):   # offset in floats into the weights blob, -1 when absent
        return header[name]["data_offsets"][0] // 4 if name in header else -1

    inp = cfg["input"]
    shape = {"input": (inp["height"], inp["width"], inp["channels"])}
    index = {"input": 0}
    lines = [f"input 0 {inp['height']} {inp['width']} {inp['channels']}"]
    for layer in cfg["layers"]:
        t, name, ins = layer["type"], layer["name"], layer["inputs"]
        h, w, c = shape[ins[0]]
        i = len(index)
        src = " ".join(str(index[x]) for x in ins)
        if t in ("conv2d", "depthwise_conv2d"):
            kh, kw = layer["kernel"]
            sh, sw = layer.get("strides", [1, 1])
            dh, dw = layer.get("dilation", [1, 1])
            if layer.get("padding", "valid") == "same":
                pt, pb = same_pads(h, kh, sh, dh)
                pl, pr = same_pads(w, kw, sw, dw)
            else:
                pt = pb = pl = pr = 0
            oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
            ow = (w + pl + pr - (kw - 1) * dw - 1) // sw + 1
            if t == "conv2d":
                groups, cout, kernel = layer.get("groups", 1), layer["filters"], f"{name}.kernel"
            else:
                if layer.get("depth_multiplier", 1) != 1:
                    sys.exit(f"{cfg_path}: {name}: depth_multiplier other than 1")
                groups, cout, kernel = c, c, f"{name}.depthwise_kernel"
            act = 1 if layer.get("activation", "linear") == "relu" else 0
            lines.append(f"conv {i} {src} {h} {w} {c} {cout} {kh} {kw} {sh} {sw} {dh} {dw} {pt} {pl} {pb} {pr} "
                         f"{groups} {act} {off(kernel)} {off(name + '.bias')}")
            shape[name] = (oh, ow, cout)
        elif t == "batchnorm":
            eps = layer.get("epsilon", 1e-3)
            lines.append(f"bn {i} {src} {c} {off(name + '.gamma')} {off(name + '.beta')} "
                         f"{off(name + '.moving_mean')} {off(name + '.moving_variance')} {eps!r}")
            shape[name] = (h, w, c)
        elif t in ("relu", "add", "softmax"):
            lines.append(f"{t} {i} {src} {h * w * c}" if t != "softmax" else f"softmax {i} {src} {c}")
            shape[name] = (h, w, c)
        elif t == "maxpool2d":
            kh, kw = layer["pool"]
            sh, sw = layer.get("strides", [kh, kw])
            if layer.get("padding", "valid") == "same":
                pt, pb = same_pads(h, kh, sh)
                pl, pr = same_pads(w, kw, sw)
            else:
                pt = pb = pl = pr = 0
            oh = (h + pt + pb - kh) // sh + 1
            ow = (w + pl + pr - kw) // sw + 1
            lines.append(f"maxpool {i} {src} {h} {w} {c} {kh} {kw} {sh} {sw} {pt} {pl} {pb} {pr}")
            shape[name] = (oh, ow, c)
        elif t == "global_avgpool":
            lines.append(f"gap {i} {src} {h * w} {c}")
            shape[name] = (1, 1, c)
        else:
            sys.exit(f"{cfg_path}: {name}: layer type {t} is not in the driver")
        index[name] = i
    outputs = cfg["outputs"]
    lines.append(f"output {index[outputs['features']]} {index[outputs['probabilities']]}")

    gh, gdata = safetensors(golden_path)
    x = gh["input"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "graph.txt"), "w") as f:
        f.write(f"batch {x['shape'][0]}\n" + "\n".join(lines) + "\n")
    open(os.path.join(out, "weights.bin"), "wb").write(data)
    for name in ("input", "features", "probabilities"):
        a, b = gh[name]["data_offsets"]
        open(os.path.join(out, name + ".bin"), "wb").write(gdata[a:b])
    print(f"export: {len(lines) - 2} layers, batch {x['shape'][0]}, into {out}")


if __name__ == "__main__":
    main()
