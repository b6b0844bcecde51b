#!/usr/bin/env python3
"""OpenCV's resizing of a real face crop, the reference for PainFace's Resize (run once;
committed to Tests/Fixtures/resize/).

  .venv/bin/python tools/make_resize_fixtures.py

Source: samples/faces/cap12_t010s/frame_00001.png (224x224, MIT clip). Outputs, raw RGB8:
area_64.rgb (INTER_AREA to 64x64), area_100.rgb (INTER_AREA to 100x100, a fractional
ratio), linear_301.rgb (INTER_LINEAR to 301x301).
"""
import os

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "resize")


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = cv2.cvtColor(cv2.imread(os.path.join(ROOT, "samples/faces/cap12_t010s/frame_00001.png")), cv2.COLOR_BGR2RGB)
    for name, size, interp in (("area_64", 64, cv2.INTER_AREA), ("area_100", 100, cv2.INTER_AREA), ("linear_301", 301, cv2.INTER_LINEAR)):
        cv2.resize(rgb, (size, size), interpolation=interp).tofile(os.path.join(OUT, name + ".rgb"))
    print(sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
