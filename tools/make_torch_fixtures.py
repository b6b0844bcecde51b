#!/usr/bin/env python3
"""Golden fixture from PyTorch (run once; the outputs are committed).

  TORCH_PY=~/.cache/painface-anchors/torch-venv/bin/python   # any Python with torch
  $TORCH_PY tools/make_torch_fixtures.py

A small network with the PyTorch semantics PainFace must follow: 3x3 convolutions, PReLU,
max pooling in ceil mode (MTCNN's), average pooling counting the padding, batch
normalisation (eps 1e-5), a flatten in (c, h, w) order feeding a linear layer, softmax.
Writes into Tests/Fixtures/: torch_net.json + torch_net.safetensors (converted
with tools/convert_torch.py) and torch_net_golden.safetensors (input NHWC, PyTorch output).
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_torch  # noqa: E402
from painface_format import write_model, write_safetensors  # noqa: E402

FIX = os.path.join(os.path.dirname(HERE), "Tests", "Fixtures")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.prelu2 = nn.PReLU()           # one shared slope
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.pool3 = nn.AvgPool2d(3, 1, padding=1, count_include_pad=True)
        self.dense4 = nn.Linear(16 * 3 * 2, 20)   # 13x11 -> 11x9 -> 6x5 -> 6x5 -> 3x2
        self.prelu4 = nn.PReLU(20)
        self.dense5 = nn.Linear(20, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.bn2(self.conv2(x))))
        x = self.pool3(x)
        x = self.prelu4(self.dense4(x.flatten(1)))
        return torch.softmax(self.dense5(x), dim=1)


ARCH = {
    "name": "torch-net",
    "input": {"height": 13, "width": 11, "channels": 3, "color": "rgb", "normalization": {"scale": 1.0, "offset": 0.0}},
    "layers": [
        {"name": "conv1", "type": "conv2d", "filters": 10, "kernel": [3, 3]},
        {"name": "prelu1", "type": "prelu"},
        {"name": "pool1", "type": "maxpool2d", "pool": [2, 2], "strides": [2, 2], "ceil_mode": True},
        {"name": "conv2", "type": "conv2d", "filters": 16, "kernel": [3, 3], "padding": [1, 1, 1, 1]},
        {"name": "bn2", "type": "batchnorm", "epsilon": 1e-5},
        {"name": "prelu2", "type": "prelu"},
        {"name": "pool2", "type": "maxpool2d", "pool": [3, 3], "strides": [2, 2], "ceil_mode": True},
        {"name": "pool3", "type": "avgpool2d", "pool": [3, 3], "strides": [1, 1], "padding": [1, 1, 1, 1], "count_include_pad": True},
        {"name": "flatten", "type": "flatten"},
        {"name": "dense4", "type": "dense", "units": 20},
        {"name": "prelu4", "type": "prelu"},
        {"name": "dense5", "type": "dense", "units": 4},
        {"name": "prob", "type": "softmax"},
    ],
    "outputs": {"features": "prelu4", "probabilities": "prob"},
}


def main():
    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():   # non-trivial statistics and slopes
        net.bn2.running_mean.uniform_(-0.5, 0.5)
        net.bn2.running_var.uniform_(0.5, 2.0)
        net.bn2.weight.uniform_(0.5, 1.5)
        net.bn2.bias.uniform_(-0.2, 0.2)
        for p in (net.prelu1, net.prelu2, net.prelu4):
            p.weight.uniform_(0.05, 0.4)
    x = torch.rand(5, 3, 13, 11) * 2 - 1
    with torch.no_grad():
        y = net(x).numpy()
        feat = net.prelu4(net.dense4(net.pool3(net.pool2(net.prelu2(net.bn2(net.conv2(net.pool1(net.prelu1(net.conv1(x)))))))).flatten(1))).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        sd = os.path.join(tmp, "net.pt")
        torch.save(net.state_dict(), sd)
        state = torch.load(sd, weights_only=True)
    tensors = convert_torch.convert(state, ARCH, {})
    write_model(os.path.join(FIX, "torch_net"), ARCH, tensors, {"converted_from": "tools/make_torch_fixtures.py"})
    write_safetensors(os.path.join(FIX, "torch_net_golden.safetensors"),
                      [("input", x.numpy().transpose(0, 2, 3, 1)), ("probabilities", y), ("features", feat)],
                      {"torch": torch.__version__})
    print("torch_net: probabilities", y[0])


if __name__ == "__main__":
    main()
