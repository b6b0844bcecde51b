"""The Python API on the repository's sample frames (run by tools/python_check.sh)."""
import glob
import os
import unittest

import painface

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDERS = sorted(glob.glob(os.path.join(ROOT, "samples", "frames", "*", "")))


class QuantizeTests(unittest.TestCase):
    def test_int8_model_and_its_features(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            stem = os.path.join(tmp, "mx-int8")
            config = painface.quantize("fer-mini-xception", FOLDERS[0], stem, every=1)
            q = config["quantization"]
            self.assertLessEqual(q["feature_drift"]["max"], 3e-2)
            self.assertEqual([l["name"] for l in config["layers"] if "input_quant" in l], q["int8_layers"])
            videos = painface.infer(FOLDERS[:1], model=stem + ".json", threads=2)
            self.assertEqual(len(videos), 1)


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
        self.assertEqual(list(frames.columns[:6]), ["video", "frame", "timestamp", "frame_file", "source",
                                                    "confidence"])

    def test_every_output_file_parses_with_pandas(self):
        """Each table README names, read by read_table, has the documented columns and dtypes."""
        import json
        import tempfile
        import pandas as pd
        manifest = os.path.join(ROOT, "samples", "frames", "manifest.csv")
        proto = ["--segment-length", "20"]
        name = os.path.basename(os.path.normpath(FOLDERS[0]))
        ints, text = "int64", "text"

        def dtypes(table, **want):
            for c, d in want.items():
                if d == text:   # object before pandas 3, str from it
                    self.assertIn(str(table[c].dtype), ("object", "str", "string"), c)
                else:
                    self.assertEqual(str(table[c].dtype), d, c)

        with tempfile.TemporaryDirectory() as tmp:
            j = lambda f: os.path.join(tmp, f)
            # crop: one row per frame, and the landmarks (MTCNN's five points) in OpenFace's columns
            painface._run(["crop", FOLDERS[0], "--out", j("crops"), "--sources", "mtcnn,haar", "--quiet"])
            crop = painface.read_table(j("crops/" + name + ".csv"))
            self.assertEqual(list(crop.columns), ["frame", "timestamp", "frame_file", "source", "confidence",
                                                  "x", "y", "w", "h", "faces", "face_id", "detector_score",
                                                  "reason"])
            dtypes(crop, frame=ints, timestamp="float64", frame_file=text, confidence="float64", x="float64",
                   faces="Int64", face_id="Int64")
            self.assertTrue(crop["confidence"].between(0, 1).all())
            self.assertEqual(list(crop["frame"]), list(range(len(crop))))
            marks = painface.read_table(j("crops/" + name + ".landmarks.csv"))
            self.assertEqual(list(marks.columns[:6]), ["frame", "timestamp", "frame_file", "face_id", "source", "points"])
            self.assertEqual(list(marks.columns[6:]), [f"x_{i}" for i in range(5)] + [f"y_{i}" for i in range(5)])
            dtypes(marks, frame=ints, points=ints, x_0="float64", y_4="float64")
            # dataset check, extract (with its statistics), train (its log), evaluate, predict
            painface._run(["dataset", "check", manifest, *proto, "--json", j("check.json")])
            with open(j("check.json")) as f:
                self.assertEqual(json.load(f)["videos"], 8)
            painface._run(["extract", manifest, *proto, "--cache", j("cache"), "--stats-json", j("stats.json"),
                           "--quiet"])
            with open(j("stats.json")) as f:
                self.assertGreater(json.load(f)["frames"], 0)
            feats = painface.load_features(j("cache/cap12_a.safetensors"))
            self.assertEqual(feats["features"].dtype.name, "float32")
            painface._run(["train", manifest, *proto, "--cache", j("cache"), "--kind", "framewise",
                           "--out", j("head"), "--epochs", "2", "--quiet"])
            log = painface.read_table(j("head.log.csv"))
            dtypes(log, loss="float64")
            self.assertEqual(list(log["epoch"]), [1, 2])
            painface._run(["evaluate", manifest, *proto, "--cache", j("cache"), "--head", j("head"),
                           "--report", j("report"), "--predictions", j("eval.csv"), "--json", j("eval.json")])
            with open(j("report/metrics.json")) as f:
                metrics = json.load(f)
            self.assertEqual((metrics["unit"], metrics["videos"]), ("video", 2))
            self.assertIn("macro_f1", metrics)
            self.assertEqual(metrics["provenance"]["split"], "validation")
            evaluation = painface.read_table(j("eval.csv"))
            painface._run(["predict", "--head", j("head"), "--manifest", manifest, *proto, "--cache", j("cache"),
                           "--split", "validation", "--out", j("predict.csv")])
            predicted = painface.read_table(j("predict.csv"))
            # one per-video schema: evaluate's is predict's plus the true class
            self.assertEqual(list(evaluation.columns), list(predicted.columns) + ["true"])
            video_columns = ["video", "label", "p_no_pain", "p_low_pain", "p_high_pain", "face_coverage",
                             "frames_used", "frames_total"]
            self.assertEqual(list(predicted.columns), video_columns)
            dtypes(predicted, video=text, label=text, p_no_pain="float64", face_coverage="float64",
                   frames_used=ints, frames_total=ints)
            dtypes(evaluation, true=text)
            # infer: CSV and JSON lines give the same table
            painface._run(["infer", FOLDERS[0], "--head", j("head"), "--per-frame", "--out", j("p.csv"), "--quiet",
                           "--window", "20", "--hop", "10"])
            windows = painface.read_table(j("p.windows.csv"))
            self.assertEqual(list(windows.columns), ["video", "window", "start_frame", "end_frame", "start", "end",
                                                     "label", "p_no_pain", "p_low_pain", "p_high_pain",
                                                     "face_coverage", "frames_used"])
            dtypes(windows, window=ints, start_frame=ints, end_frame=ints, start="float64", label=text,
                   frames_used=ints)
            self.assertEqual(list(windows["start_frame"]), [0, 10, 20])
            painface._run(["infer", FOLDERS[0], "--head", j("head"), "--per-frame", "--out", j("p.jsonl"),
                           "--quiet"])
            for ext in ("csv", "jsonl"):
                videos = painface.read_table(j("p." + ext))
                frames = painface.read_table(j("p.frames." + ext))
                self.assertEqual(list(videos.columns), video_columns, ext)
                dtypes(videos, frames_used=ints, frames_total=ints)
                dtypes(frames, frame=ints, timestamp="float64", confidence="float64", x="float64",
                       p_high_pain="float64")
                self.assertEqual(list(frames["frame"]), list(range(len(frames))))
            pd.testing.assert_frame_equal(painface.read_table(j("p.frames.csv")),
                                          painface.read_table(j("p.frames.jsonl")), check_dtype=False)
            self.assertIn("fer-mini-xception", list(painface.models()["name"]))

    def test_engine_errors_are_typed(self):
        with self.assertRaises(painface.PainFaceError) as e:
            painface.infer([os.path.join(ROOT, "no-such-folder")])
        self.assertIn("no-such-folder", e.exception.message)
        self.assertNotEqual(e.exception.status, 0)


if __name__ == "__main__":
    unittest.main()
