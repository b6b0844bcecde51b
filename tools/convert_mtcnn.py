#!/usr/bin/env python3
"""Convert facenet-pytorch's MTCNN (P-, R- and O-Net state_dicts, MIT) into models/, and
write parity fixtures from PyTorch running the same weights.

  $TORCH_PY tools/convert_mtcnn.py [--shared ../shared]

Writes models/mtcnn-{pnet,rnet,onet}.json/.safetensors and
Tests/Fixtures/mtcnn_golden.safetensors (inputs NHWC and PyTorch's outputs). The
networks are rebuilt here layer by layer after facenet-pytorch's definitions (Conv2d, PReLU,
MaxPool2d ceil_mode, Linear after permute(0, 3, 2, 1)); the weights are theirs. P-Net is fully
convolutional: its config gives 12x12, and PainFace builds it for each pyramid size.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import convert_torch  # noqa: E402
from painface_format import write_model, write_safetensors  # noqa: E402

NORM = {"scale": 0.0078125, "offset": -127.5 * 0.0078125}   # (x - 127.5) / 128


def conv(name, f, k, **kw):
    return dict(name=name, type="conv2d", filters=f, kernel=[k, k], **kw)


def pool(name, k, s):
    return dict(name=name, type="maxpool2d", pool=[k, k], strides=[s, s], ceil_mode=True)


def prelu(name, inputs=None):
    d = dict(name=name, type="prelu")
    if inputs:
        d["inputs"] = inputs
    return d


ARCH = {
    "pnet": {"size": 12, "layers": [
        conv("conv1", 10, 3), prelu("prelu1"), pool("pool1", 2, 2),
        conv("conv2", 16, 3), prelu("prelu2"), conv("conv3", 32, 3), prelu("prelu3"),
        conv("conv4_1", 2, 1), {"name": "prob", "type": "softmax"},
        conv("conv4_2", 4, 1, inputs=["prelu3"])],
        "outputs": {"features": "prelu3", "probabilities": "prob"}},
    "rnet": {"size": 24, "layers": [
        conv("conv1", 28, 3), prelu("prelu1"), pool("pool1", 3, 2),
        conv("conv2", 48, 3), prelu("prelu2"), pool("pool2", 3, 2),
        conv("conv3", 64, 2), prelu("prelu3"), {"name": "flatten", "type": "flatten", "torch_order": "whc"},
        {"name": "dense4", "type": "dense", "units": 128}, prelu("prelu4"),
        {"name": "dense5_1", "type": "dense", "units": 2}, {"name": "prob", "type": "softmax"},
        {"name": "dense5_2", "type": "dense", "units": 4, "inputs": ["prelu4"]}],
        "outputs": {"features": "prelu4", "probabilities": "prob"}},
    "onet": {"size": 48, "layers": [
        conv("conv1", 32, 3), prelu("prelu1"), pool("pool1", 3, 2),
        conv("conv2", 64, 3), prelu("prelu2"), pool("pool2", 3, 2),
        conv("conv3", 64, 3), prelu("prelu3"), pool("pool3", 2, 2),
        conv("conv4", 128, 2), prelu("prelu4"), {"name": "flatten", "type": "flatten", "torch_order": "whc"},
        {"name": "dense5", "type": "dense", "units": 256}, prelu("prelu5"),
        {"name": "dense6_1", "type": "dense", "units": 2}, {"name": "prob", "type": "softmax"},
        {"name": "dense6_2", "type": "dense", "units": 4, "inputs": ["prelu5"]},
        {"name": "dense6_3", "type": "dense", "units": 10, "inputs": ["prelu5"]}],
        "outputs": {"features": "prelu5", "probabilities": "prob"}},
}


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 10, 3), nn.PReLU(10), nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(self.pool1(self.prelu1(self.conv1(x)))))))
        return torch.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 28, 3), nn.PReLU(28), nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(28, 48, 3), nn.PReLU(48), nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return torch.softmax(self.dense5_1(x), dim=1), self.dense5_2(x)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 32, 3), nn.PReLU(32), nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(32, 64, 3), nn.PReLU(64), nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3, self.pool3 = nn.Conv2d(64, 64, 3), nn.PReLU(64), nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return torch.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    src = os.path.join(a.shared, "models", "facenet-pytorch-mtcnn")
    golden = []
    rng = np.random.default_rng(5)
    for name, net in (("pnet", PNet()), ("rnet", RNet()), ("onet", ONet())):
        state = torch.load(os.path.join(src, f"{name}.pt"), weights_only=True)
        net.load_state_dict(state)
        net.eval()
        spec = ARCH[name]
        config = {"name": f"mtcnn-{name}", "source": f"facenet-pytorch 2.6.0 {name}.pt (MIT)",
                  "input": {"height": spec["size"], "width": spec["size"], "channels": 3, "color": "rgb", "normalization": NORM},
                  "layers": json.loads(json.dumps(spec["layers"])), "outputs": spec["outputs"]}
        tensors = convert_torch.convert(state, config, {})
        write_model(os.path.join(ROOT, "models", f"mtcnn-{name}"), config, tensors, {"converted_from": f"{name}.pt"})
        # inputs as the pipeline feeds them: normalised pixels; P-Net at an odd pyramid size
        h, w = (37, 29) if name == "pnet" else (spec["size"], spec["size"])
        n = 1 if name == "pnet" else 5
        x = ((rng.integers(0, 256, size=(n, h, w, 3)).astype(np.float32) - 127.5) * 0.0078125).astype(np.float32)
        with torch.no_grad():
            outs = net(torch.from_numpy(x.transpose(0, 3, 1, 2)))
        golden.append((f"{name}/input", x))
        for i, o in enumerate(outs):
            o = o.numpy()
            if o.ndim == 4:
                o = o.transpose(0, 2, 3, 1)   # NCHW -> NHWC
            golden.append((f"{name}/out{i}", np.ascontiguousarray(o)))
    write_safetensors(os.path.join(ROOT, "Tests", "Fixtures", "mtcnn_golden.safetensors"), golden,
                      {"torch": torch.__version__, "outputs": "pnet: prob, conv4_2; rnet: prob, dense5_2; onet: prob, dense6_2, dense6_3"})
    print("converted P-, R- and O-Net;", [(k, v.shape) for k, v in golden])


if __name__ == "__main__":
    main()
