"""The Python API on the repository's sample frames (run by tools/python_check.sh)."""
import glob
import os
import unittest

import painface

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDERS = sorted(glob.glob(os.path.join(ROOT, "samples", "frames", "*", "")))


class InferTests(unittest.TestCase):
    def test_per_frame_tables(self):
        videos, frames = painface.infer(FOLDERS[:2], per_frame=True, threads=2)
        self.assertEqual(len(videos), 2)
        self.assertEqual(str(videos["frames_total"].dtype), "int64")
        self.assertTrue((videos["frames_total"] >= videos["frames_used"]).all())
        self.assertEqual(str(frames["frame"].dtype), "int64")
        for v, g in frames.groupby("video"):
            self.assertEqual(list(g["frame"]), list(range(len(g))), v)
            self.assertEqual(len(g), int(videos.loc[videos["video"] == v, "frames_total"].iloc[0]))
        probs = [c for c in frames.columns if c.startswith("p_")]
        self.assertEqual(len(probs), 7)
        self.assertTrue(all(str(frames[c].dtype) == "float64" for c in probs))
        sums = videos[probs].sum(axis=1)
        self.assertTrue(((sums > 0.99) & (sums < 1.01)).all())
        self.assertEqual(list(frames.columns[:5]), ["video", "frame", "frame_file", "source", "label"])

    def test_output_files_parse_with_pandas(self):
        import tempfile
        import pandas as pd
        with tempfile.TemporaryDirectory() as tmp:
            painface._run(["crop", FOLDERS[0], "--out", tmp])
            name = os.path.basename(os.path.normpath(FOLDERS[0]))
            crop = pd.read_csv(os.path.join(tmp, name + ".csv"), keep_default_na=False, na_values=[""],
                               dtype={"frame": str, "source": str, "landmarks": str, "reason": str})
            self.assertEqual(list(crop.columns[:7]), ["frame", "source", "x", "y", "w", "h", "score"])
            for c in ("x", "y", "w", "h", "score"):
                self.assertEqual(str(crop[c].dtype), "float64", c)
            self.assertTrue((crop["w"] > 0).all())
            out = os.path.join(tmp, "p.jsonl")
            painface._run(["infer", FOLDERS[0], "--json", "--per-frame", "--out", out])
            videos = pd.read_json(out, lines=True)
            frames = pd.read_json(os.path.join(tmp, "p.frames.jsonl"), lines=True)
            self.assertEqual(str(videos["frames_total"].dtype), "int64")
            self.assertEqual(str(frames["frame"].dtype), "int64")
            self.assertEqual(list(frames["frame"]), list(range(len(frames))))

    def test_engine_errors_are_typed(self):
        with self.assertRaises(painface.PainFaceError) as e:
            painface.infer([os.path.join(ROOT, "no-such-folder")])
        self.assertIn("no-such-folder", e.exception.message)
        self.assertNotEqual(e.exception.status, 0)


if __name__ == "__main__":
    unittest.main()
