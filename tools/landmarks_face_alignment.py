#!/usr/bin/env python3
"""Write 68-point landmarks of every frame of video folders with the face-alignment library
(FAN, as the paper did), in the layouts `painface crop --landmarks` reads.

  pip install face-alignment          # needs torch; downloads its FAN weights on first use
  python3 tools/landmarks_face_alignment.py frames/video_01 frames/video_02 --out landmarks/

For each folder VIDEO it writes landmarks/VIDEO.csv and landmarks/VIDEO.npy:

  CSV: a header `frame,x0,y0,x1,y1,...,x67,y67`, then one row per image file of the folder,
       frame = the file name; a frame where no face was found has empty (NaN) values.
  NPY: float32 array [frames, 68, 2] in the natural order of the folder's image names
       (frame_2 before frame_10), NaN where no face was found.

When face-alignment finds several faces, the largest is kept. Then:

  painface crop frames/video_01 frames/video_02 --landmarks landmarks/ --out crops/

Not run in PainFace's CI (face-alignment fetches its weights from the network).
"""
import argparse
import os
import re
import sys

import numpy as np

EXTS = (".jpg", ".jpeg", ".png")


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import face_alignment
    from skimage import io

    fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=a.device)
    os.makedirs(a.out, exist_ok=True)
    for folder in a.folders:
        name = os.path.basename(os.path.normpath(folder))
        frames = sorted((f for f in os.listdir(folder) if f.lower().endswith(EXTS)), key=natural_key)
        arr = np.full((len(frames), 68, 2), np.nan, dtype=np.float32)
        for i, f in enumerate(frames):
            try:
                preds = fa.get_landmarks(io.imread(os.path.join(folder, f)))
            except Exception as e:  # an unreadable frame stays NaN
                print(f"{folder}/{f}: {e}", file=sys.stderr)
                continue
            if preds:
                areas = [np.ptp(p[:, 0]) * np.ptp(p[:, 1]) for p in preds]
                arr[i] = preds[int(np.argmax(areas))][:, :2]
        np.save(os.path.join(a.out, name + ".npy"), arr)
        with open(os.path.join(a.out, name + ".csv"), "w") as out:
            out.write("frame," + ",".join(f"x{k},y{k}" for k in range(68)) + "\n")
            for f, p in zip(frames, arr):
                vals = ",".join("" if np.isnan(v) else f"{v:.3f}" for v in p.reshape(-1))
                out.write(f"{f},{vals}\n")
        found = int((~np.isnan(arr[:, 0, 0])).sum())
        print(f"{name}: {found} of {len(frames)} frames with landmarks")


if __name__ == "__main__":
    main()
