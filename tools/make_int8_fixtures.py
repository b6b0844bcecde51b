#!/usr/bin/env python3
"""int8 golden fixture from PyTorch's quantisers (run once; the output is committed).

  TORCH_PY=~/.cache/painface-anchors/torch-venv/bin/python   # any Python with torch
  $TORCH_PY tools/make_int8_fixtures.py

PainFace's int8 arithmetic in PyTorch's terms: activations by torch.quantize_per_tensor
(quint8, the scale and zero point of the given range), weights by torch.quantize_per_channel
(qint8, symmetric per output column, max |w| -> 127), the integer sum in int64 (exact), then
(sum - zero * colsum) * (scale * s_j) + bias. Writes Tests/Fixtures/int8_golden.safetensors:
  quant_x [n], quant_q [n]: values and their quint8 codes (scale 0.5, zero point 10), with
    ties, clipping and tiny values;
  gemm_a [M, K], gemm_b [K, N], gemm_bias [N], gemm_y [M, N]; gemm_qparams [2] (scale, zero);
  gemm_b_codes [K, N], gemm_b_step [N]: B's qint8 codes and per-column scales (stored int8 weights).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from painface_format import write_safetensors  # noqa: E402

FIX = os.path.join(os.path.dirname(HERE), "Tests", "Fixtures")


def main():
    rng = np.random.default_rng(8)
    ties = np.array([0.25, 0.75, 1.25, -0.25, -0.75, -5.25, 200.0, -200.0, 1e-30, 62.7, 122.25, 122.75],
                    np.float32)
    x = np.concatenate([ties, rng.uniform(-8, 130, 500).astype(np.float32)])
    q = torch.quantize_per_tensor(torch.from_numpy(x), 0.5, 10, torch.quint8).int_repr().numpy()

    M, K, N = 23, 200, 37
    a = rng.uniform(-1.0, 3.0, (M, K)).astype(np.float32)
    b = rng.normal(0, 0.2, (K, N)).astype(np.float32)
    bias = rng.normal(0, 0.5, N).astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    scale = np.float32((hi - lo) / 255.0)
    zero = int(np.clip(np.rint(-lo / scale), 0, 255))
    qa = torch.quantize_per_tensor(torch.from_numpy(a), float(scale), zero, torch.quint8).int_repr().long()
    sw = (np.abs(b).max(axis=0) / np.float32(127)).astype(np.float32)
    qw = torch.quantize_per_channel(torch.from_numpy(b), torch.from_numpy(sw.astype(np.float64)),
                                    torch.zeros(N, dtype=torch.long), 1, torch.qint8).int_repr().long()
    acc = ((qa - zero) @ qw).numpy().astype(np.float64)       # exact in int64
    y = acc * (np.float64(scale) * sw.astype(np.float64)) + bias.astype(np.float64)
    write_safetensors(os.path.join(FIX, "int8_golden.safetensors"), list({
        "quant_x": x, "quant_q": q.astype(np.float32),
        "gemm_a": a, "gemm_b": b, "gemm_bias": bias, "gemm_y": y.astype(np.float32),
        "gemm_qparams": np.array([scale, zero], np.float32),
        "gemm_b_codes": qw.numpy().astype(np.float32), "gemm_b_step": sw,
    }.items()), {"source": "torch %s quantize_per_tensor / quantize_per_channel" % torch.__version__})
    print("wrote int8_golden.safetensors: zero point", zero, "scale", scale)


if __name__ == "__main__":
    main()
