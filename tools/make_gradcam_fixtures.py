#!/usr/bin/env python3
"""Grad-CAM / Grad-CAM++ goldens from PyTorch, written to Tests/Fixtures/gradcam_golden.safetensors.

  python3 -m venv .build/torchvenv && .build/torchvenv/bin/pip install torch numpy
  .build/torchvenv/bin/python tools/make_gradcam_fixtures.py

Run by hand (CI never installs PyTorch); the output is committed and the Swift test regenerates
the weights it does not hold (VGG16 fixture, frame-wise head) from SplitMix64. The PainFace model
format runs in a small interpreter of PyTorch ops, checked against the Keras goldens first; the
maps are computed as jacobgil's pytorch-grad-cam does, written out.
"""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from painface_format import read_safetensors, write_safetensors  # noqa: E402
from make_fixtures import splitmix_uniform, vgg_weights  # noqa: E402  (it imports keras only inside functions)

FIX = os.path.join(ROOT, "Tests", "Fixtures")
RECIPE = (
    "X = models/fer-mini-xception, inputs = the first 8 of mini_xception_golden.safetensors 'input'; "
    "V = Tests/Fixtures/vgg16_gap_fc1024.json with make_fixtures.py's weights (tensor k in config order: "
    "SplitMix64 seed 1000+k) and inputs (seeds 7 and 8, uniform [0,255) HWC minus the caffe means). "
    "own = the model's logits (X: global_average_pooling2d_1, V: pain). head = dense layers "
    "[F,1024,128,32,3] on outputs.features, ReLU after all but the last; layer l: kernel [fi,fo] = "
    "splitmix_uniform(2000+2l, fi*fo, -1, 1).reshape(fi,fo) * float32(sqrt(6/(fi+fo))) (float32 product), "
    "bias = splitmix_uniform(2001+2l, fo, -0.1, 0.1). class = the logits' class_rank-th highest (0 = argmax), "
    "score = that pre-softmax logit, summed over the batch for backward. alpha = mean_hw(G); "
    "cam = relu(sum_k alpha_k A_k); campp: pytorch-grad-cam's Grad-CAM++ (eps 1e-6); *_up = "
    "(cam - min) / (1e-7 + max) per image, then bilinear align_corners=False to the input size. "
    "f64_rel = max|float32 - float64| / max|float64| of the same computation (the noise floor).")


# ---------------------------------------------------------------- the model format (Model.swift)

def pair(v, default=None):
    v = default if v is None else v
    return (v, v) if isinstance(v, int) else (v[0], v[-1])  # [k] means [k, k]


def pads(p, h, w, k, s, d):
    """(top, left, bottom, right). Keras 'same' puts the odd pixel at the bottom/right."""
    if p is None or p == "valid":
        return (0, 0, 0, 0)
    if p == "same":
        def one(n, k, s, d):
            total = max(((n + s - 1) // s - 1) * s + (k - 1) * d + 1 - n, 0)
            return total // 2, total - total // 2
        (t, b), (le, r) = one(h, k[0], s[0], d[0]), one(w, k[1], s[1], d[1])
        return (t, le, b, r)
    return tuple({1: list(p) * 4, 2: list(p) * 2, 4: list(p)}[len(p)])  # explicit [t, l, b, r]


def pool(l, x):
    """ck_maxpool2d: max over in-image taps, 0 for a window wholly in padding. ck_avgpool2d: the
    in-image sum over their count, or over the window clipped to the padded extent (count_include_pad)."""
    h, w = x.shape[2:]
    k = pair(l["pool"]); s = pair(l.get("strides"), k[0])
    t, le, b, r = pads(l.get("padding"), h, w, k, s, (1, 1))
    ceil = l.get("ceil_mode", False)

    def out(n, k, s, lo, hi):  # ck_pool2d_out_h; in ceil mode the last window starts in image or left pad
        o = (-(-(n + lo + hi - k) // s) if ceil else (n + lo + hi - k) // s) + 1
        return o - 1 if ceil and (o - 1) * s >= n + lo else o
    oh, ow = out(h, k[0], s[0], t, b), out(w, k[1], s[1], le, r)
    # pad so that every window lies in the tensor; what lies beyond the padded extent never counts
    eb, er = max(0, (oh - 1) * s[0] + k[0] - (h + t + b)), max(0, (ow - 1) * s[1] + k[1] - (w + le + r))
    full = (le, r + er, t, b + eb)
    if l["type"] == "maxpool2d":
        y = F.max_pool2d(F.pad(x, full, value=-float("inf")), k, s)[:, :, :oh, :ow]
        return torch.where(y == -float("inf"), torch.zeros_like(y), y)
    ones = torch.ones(1, 1, h, w, dtype=x.dtype)  # pooled like the sums, it gives the divisor
    ones = (F.pad(F.pad(ones, (le, r, t, b), value=1.0), (0, er, 0, eb)) if l.get("count_include_pad", False)
            else F.pad(ones, full))
    sums = F.avg_pool2d(F.pad(x, full), k, s, divisor_override=1)[:, :, :oh, :ow]
    div = F.avg_pool2d(ones, k, s, divisor_override=1)[:, :, :oh, :ow]
    return torch.where(div > 0, sums / div.clamp(min=1), torch.zeros_like(sums))


def forward(cfg, W, x):
    """x [n,h,w,c] -> every layer's output, NCHW for maps and [n,c] for vectors. Channel-axis ops
    (dense, softmax, flatten's order) follow the format's NHWC."""
    vals, prev = {"input": x.permute(0, 3, 1, 2)}, "input"
    for l in cfg["layers"]:
        name, ty = l["name"], l["type"]
        ins = [vals[i] for i in (l.get("inputs") or [prev])]  # absent = the previous layer
        x = ins[0]
        cshape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)  # a per-channel vector, broadcast
        has_bias = ty in ("conv2d", "depthwise_conv2d", "dense") and l.get("use_bias", True)
        bias = W[name + ".bias"] if has_bias else None
        if ty in ("conv2d", "depthwise_conv2d"):
            k = pair(l["kernel"]); s = pair(l.get("strides"), 1); d = pair(l.get("dilation"), 1)
            t, le, b, r = pads(l.get("padding"), x.shape[2], x.shape[3], k, s, d)
            if ty == "conv2d":
                g, wt = l.get("groups", 1), W[name + ".kernel"]  # HWIO [kh, kw, cin/groups, cout]
            else:  # output channel ci*m + j, as Model.swift's reshape of [kh, kw, c, m] to [kh, kw, 1, c*m]
                g, wt = x.shape[1], W[name + ".depthwise_kernel"].reshape(k[0], k[1], 1, -1)
            y = F.conv2d(F.pad(x, (le, r, t, b)), wt.permute(3, 2, 0, 1), bias, s, 0, d, g)
        elif ty == "dense":  # on the channel axis, also of a map
            y = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
            y = y @ W[name + ".kernel"] + (0 if bias is None else bias)
            y = y.permute(0, 3, 1, 2) if x.dim() == 4 else y
        elif ty == "batchnorm":  # ck_batchnorm_fold: scale = gamma / sqrt(var + eps), shift = beta - mean * scale
            one = torch.ones(x.shape[1], dtype=x.dtype)
            sc = (W[name + ".gamma"] if l.get("scale", True) else one) / torch.sqrt(
                W[name + ".moving_variance"] + l.get("epsilon", 1e-3))
            sh = (W[name + ".beta"] if l.get("center", True) else 0 * one) - W[name + ".moving_mean"] * sc
            y = x * sc.reshape(cshape) + sh.reshape(cshape)
        elif ty == "prelu":
            y = torch.where(x > 0, x, W[name + ".alpha"].reshape(cshape) * x)
        elif ty in ("maxpool2d", "avgpool2d"):
            y = pool(l, x)
        else:
            y = {"relu": F.relu, "softmax": lambda x: torch.softmax(x, dim=1), "add": lambda x: x + ins[1],
                 "global_avgpool": lambda x: x.mean(dim=(2, 3)),
                 "flatten": lambda x: x.permute(0, 2, 3, 1).reshape(len(x), -1) if x.dim() == 4 else x}[ty](x)
        vals[name], prev = (F.relu(y) if l.get("activation") == "relu" else y), name  # fused activation
    return vals


# ---------------------------------------------------------------- weights, head, Grad-CAM

def vgg_fixture_weights(cfg):
    """make_fixtures.vgg_weights over the config's tensors in order (kernel, bias per layer)."""
    ch, shapes, prev = {"input": cfg["input"]["channels"]}, [], "input"
    for l in cfg["layers"]:
        c = ch[(l.get("inputs") or [prev])[0]]
        if l["type"] in ("conv2d", "dense"):
            assert l.get("use_bias", True) and l.get("groups", 1) == 1
            o = l.get("filters") or l["units"]
            shapes += [(l["name"] + ".kernel", (*pair(l["kernel"]), c, o) if l["type"] == "conv2d" else (c, o)),
                       (l["name"] + ".bias", (o,))]
            c = o
        ch[l["name"]], prev = c, l["name"]
    ws = vgg_weights(SimpleNamespace(weights=[SimpleNamespace(shape=s) for _, s in shapes]))
    return {n: w for (n, _), w in zip(shapes, ws)}


def head_weights(f):
    """The frame-wise head [f, 1024, 128, 32, 3]; Glorot-uniform limit as a float32, product in float32."""
    out = []
    for l, (fi, fo) in enumerate(zip([f, 1024, 128, 32], [1024, 128, 32, 3])):
        k = splitmix_uniform(2000 + 2 * l, fi * fo, -1.0, 1.0).reshape(fi, fo) * np.float32(np.sqrt(6.0 / (fi + fo)))
        out.append((k.astype(np.float32), splitmix_uniform(2001 + 2 * l, fo, -0.1, 0.1)))
    return out


def gradcam(m, case, dtype, cls=None):
    """Activations A and gradients G of the target layer for the chosen class's logit, and the maps."""
    W = {n: torch.tensor(a, dtype=dtype) for n, a in m.weights.items()}
    x = torch.tensor(m.x, dtype=dtype, requires_grad=True)  # so that the graph is recorded
    vals = forward(m.cfg, W, x)
    A = vals[case["layer"]]  # the target layer's output, what pytorch-grad-cam's forward hook sees
    A.retain_grad()
    if case["target"] == "own":
        logits = vals[m.logits]
    else:
        logits = vals[m.cfg["outputs"]["features"]]
        for i, (k, b) in enumerate(m.head):
            logits = logits @ torch.tensor(k, dtype=dtype) + torch.tensor(b, dtype=dtype)
            logits = F.relu(logits) if i < len(m.head) - 1 else logits
    if cls is None:
        cls = torch.argsort(logits.detach(), dim=1, descending=True)[:, case["class_rank"]]
    score = logits.gather(1, cls[:, None])[:, 0]
    score.sum().backward()  # each image's score depends on that image only
    A, G = A.detach(), A.grad
    alpha = G.mean(dim=(2, 3))  # GradCAM.get_cam_weights
    cam = F.relu((alpha[:, :, None, None] * A).sum(1))  # BaseCAM.compute_cam_per_layer
    # GradCAMPlusPlus.get_cam_weights. Where A is not post-ReLU (add layers) sumA can be < 0, and
    # 2 g2 + sumA g3 nearly cancels for some G > 0: campp is then far noisier than cam.
    g2 = G ** 2
    g3 = g2 * G
    sumA = A.sum(dim=(2, 3))
    aij = g2 / (2 * g2 + sumA[:, :, None, None] * g3 + 1e-6)
    aij = torch.where(G != 0, aij, torch.zeros_like(aij))
    w = (F.relu(G) * aij).sum(dim=(2, 3))
    campp = F.relu((w[:, :, None, None] * A).sum(1))
    return dict(cls=cls, score=score.detach(), alpha=alpha, cam=cam, campp=campp)


def upsample(cam, size):
    """scale_cam_image: min-max per image, then bilinear (torch's here, cv2.resize there)."""
    m = cam - cam.amin(dim=(1, 2), keepdim=True)
    m = m / (1e-7 + m.amax(dim=(1, 2), keepdim=True))
    return F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / np.abs(b).max()


def main():
    gx, gv, gt = (read_safetensors(os.path.join(FIX, f + "_golden.safetensors"))
                  for f in ("mini_xception", "vgg16_gap_fc1024", "torch_net"))
    cx, cv, ct = (json.load(open(p)) for p in (os.path.join(ROOT, "models", "fer-mini-xception.json"),
                                    os.path.join(FIX, "vgg16_gap_fc1024.json"), os.path.join(FIX, "torch_net.json")))
    wx = read_safetensors(os.path.join(ROOT, "models", "fer-mini-xception.safetensors"))
    wt = read_safetensors(os.path.join(FIX, "torch_net.safetensors"))
    wv = vgg_fixture_weights(cv)
    xv = np.stack([splitmix_uniform(s, 224 * 224 * 3, 0.0, 255.0).reshape(224, 224, 3) for s in (7, 8)])
    xv = (xv - np.array([103.939, 116.779, 123.68], np.float32)).astype(np.float32)

    # The interpreter must reproduce Keras (and torch_net, for explicit pads, ceil_mode,
    # count_include_pad, prelu, flatten) before its gradients mean anything.
    with torch.no_grad():
        for name, cfg, W, x, g in [("mini-xception", cx, wx, gx["input"], gx), ("vgg16", cv, wv, xv, gv),
                                   ("torch_net", ct, wt, gt["input"], gt)]:
            vals = forward(cfg, {n: torch.tensor(a) for n, a in W.items()}, torch.tensor(x))
            rf = rel(vals[cfg["outputs"]["features"]], g["features"])
            rp = rel(vals[cfg["outputs"]["probabilities"]], g["probabilities"])
            print(f"forward check {name}: n={len(x)} features rel {rf:.2e}, probabilities rel {rp:.2e}")
            assert rf < 1e-5 and rp < 1e-5, name

    X = SimpleNamespace(name="fer-mini-xception", cfg=cx, weights=wx, x=gx["input"][:8],
                        logits="global_average_pooling2d_1", head=head_weights(128))
    V = SimpleNamespace(name="vgg16_gap_fc1024", cfg=cv, weights=wv, x=xv, logits="pain", head=head_weights(1024))
    cases = [("x_own_conv2d_7", X, "own", "conv2d_7"), ("x_own_add_4", X, "own", "add_4"),
             ("x_own_add_2", X, "own", "add_2"), ("x_head_add_4", X, "head", "add_4"),
             ("v_own_block5_conv3", V, "own", "block5_conv3"), ("v_own_block4_conv3", V, "own", "block4_conv3"),
             ("v_head_block5_conv3", V, "head", "block5_conv3")]
    tensors, meta = [], []
    for name, m, target, layer in cases:
        case = dict(case=name, model=m.name, target=target, layer=layer, n=len(m.x), class_rank=0,
                    logits=m.logits if target == "own" else "head(%s)" % m.cfg["outputs"]["features"])
        r = gradcam(m, case, torch.float32)
        if (r["cam"].amax(dim=(1, 2)) == 0).any():  # an all-zero map tests nothing: take the next class
            print(f"  {name}: an all-zero cam with the top class; using the second-highest")
            case["class_rank"] = 1
            r = gradcam(m, case, torch.float32)
        assert not (r["cam"].amax(dim=(1, 2)) == 0).any(), name
        r64 = gradcam(m, case, torch.float64, cls=r["cls"])  # the float32 noise floor, for test tolerances
        case["f64_rel"] = {k: float("%.3g" % rel(r[k], r64[k])) for k in ("alpha", "cam", "campp")}
        out = {"class": r["cls"].float(), "score": r["score"], "alpha": r["alpha"], "cam": r["cam"],
               "campp": r["campp"]}
        if m is X:  # VGG's 224x224 maps would make the file too big
            size = (m.cfg["input"]["height"], m.cfg["input"]["width"])
            out["cam_up"], out["campp_up"] = upsample(r["cam"], size), upsample(r["campp"], size)
        tensors += [(f"{name}/{k}", v.numpy()) for k, v in out.items()]
        meta.append(case)
        print(f"{name}: classes {r['cls'].tolist()}, scores {r['score'].min():.4g}..{r['score'].max():.4g}, "
              f"cam {list(r['cam'].shape[1:])} > 0: {(r['cam'] > 0).float().mean():.3f}, campp > 0: "
              f"{(r['campp'] > 0).float().mean():.3f}, f32 vs f64 {case['f64_rel']}")
    path = os.path.join(FIX, "gradcam_golden.safetensors")
    write_safetensors(path, tensors, {"cases": json.dumps(meta), "recipe": RECIPE,
                                      "generator": "tools/make_gradcam_fixtures.py (torch %s)" % torch.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
