"""Python API over the painface engine (the `painface` executable): runs it, returns pandas
DataFrames. The engine is the one bundled in this package (scripts/package_python.sh), else
$PAINFACE_BIN, else `painface` on PATH."""
import json
import os
import shutil
import subprocess
import tempfile

__all__ = ["PainFaceError", "engine", "infer", "extract", "load_features", "models", "read_table"]
__version__ = "0.1.0"

_HERE = os.path.dirname(os.path.abspath(__file__))


class PainFaceError(RuntimeError):
    """The engine failed: `message` is its first error line (`errors`: every one), `status` its
    exit status (1: an error, or some inputs failed and the others were written; 2: usage)."""

    def __init__(self, message, status, command):
        super().__init__(message)
        self.message, self.status, self.command = message, status, command


def engine():
    """Path of the painface executable used."""
    bundled = os.path.join(_HERE, "_engine", "bin", "painface")
    if os.access(bundled, os.X_OK):
        return bundled
    env = os.environ.get("PAINFACE_BIN")
    if env:
        return env
    found = shutil.which("painface")
    if not found:
        raise PainFaceError("no painface engine: set PAINFACE_BIN or put painface on PATH", 127, [])
    return found


def _run(args):
    cmd = [engine()] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("[")]
        errors = [l[len("error: "):] for l in lines if l.startswith("error: ")]
        last = lines[-1] if lines else f"painface exited with {p.returncode}"
        e = PainFaceError(errors[0] if errors else last, p.returncode, cmd)
        e.errors = errors or [last]   # one line per failed input
        raise e
    return p.stdout


_TEXT = {"video": str, "frame_file": str, "label": str, "source": str, "true": str, "reason": str}
# integer columns of PainFace's tables (schema 1); those that may be empty are nullable (Int64)
_INTS = {"frame": "int64", "frames_used": "int64", "frames_total": "int64", "points": "int64",
         "window": "int64", "start_frame": "int64", "end_frame": "int64", "epoch": "int64",
         "faces": "Int64", "face_id": "Int64"}


def read_table(path):
    """Any table PainFace writes (CSV, or JSON lines by the extension .jsonl) as a DataFrame with
    the documented dtypes: text columns stay text (a label or video named "NA" too), counts and
    frame indices are integers (nullable Int64 where a cell may be empty), the rest float64."""
    import pandas as pd
    if str(path).endswith((".jsonl", ".json", ".ndjson")):
        table = pd.read_json(path, lines=True, dtype=False)
    else:
        table = pd.read_csv(path, dtype={c: str for c in _TEXT}, keep_default_na=False, na_values=[""])
    for c in table.columns:
        if c in _TEXT:
            table[c] = table[c].fillna("").astype(str)
        elif c in _INTS:
            # an empty cell where none is expected still reads, as a nullable integer
            table[c] = table[c].astype(_INTS[c] if table[c].notna().all() else "Int64")
        else:
            table[c] = table[c].astype("float64")
    return table


def infer(folders, head=None, model=None, per_frame=False, threads=None, **options):
    """Runs `painface infer` on frame folders. Returns the per-video DataFrame (video, label,
    p_..., face_coverage, frames_used, frames_total), or (videos, frames) with per_frame=True
    (video, frame: 0-based index in reading order, timestamp, frame_file, source, confidence,
    x, y, w, h, faces, label, p_...). Other
    keyword options map to the command's flags (sources="landmarks,haar" -> --sources
    landmarks,haar; stills=True -> --stills)."""
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    with tempfile.TemporaryDirectory(prefix="painface-") as tmp:
        out = os.path.join(tmp, "infer.csv")
        args = ["infer", *folders, "--out", out]
        if head:
            args += ["--head", head]
        if model:
            args += ["--model", model]
        if threads is not None:
            args += ["--threads", threads]
        if per_frame:
            args.append("--per-frame")
        args += _flags(options)
        _run(args)
        videos = read_table(out)
        if not per_frame:
            return videos
        return videos, read_table(os.path.join(tmp, "infer.frames.csv"))


def _flags(options):
    args = []
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif v not in (None, False):
            args += [flag, v]
    return args


def extract(manifest, cache, model=None, threads=None, **options):
    """Runs `painface extract` over a manifest into a feature cache; returns the command's output."""
    args = ["extract", manifest, "--cache", cache]
    if model:
        args += ["--model", model]
    if threads is not None:
        args += ["--threads", threads]
    return _run(args + _flags(options))


def quantize(model, calibration, out, **options):
    """Runs `painface quantize`: calibrates `model` for int8 on face crops of the `calibration`
    folders (or video files) and writes OUT.json and OUT.safetensors; returns the config as a
    dict (its "quantization" holds the calibration and the measured drift). Other keyword
    options map to the command's flags (every=5, max_drift=0.02 -> --every 5 --max-drift 0.02)."""
    if isinstance(calibration, (str, os.PathLike)):
        calibration = [calibration]
    _run(["quantize", "--model", model, "--calibration", *calibration, "--out", out] + _flags(options))
    stem = str(out)[:-5] if str(out).endswith(".json") else str(out)
    with open(stem + ".json") as f:
        return json.load(f)


def models():
    """The models the engine finds, as a DataFrame (`painface models --format json`)."""
    import pandas as pd
    return pd.DataFrame(json.loads(_run(["models", "--format", "json"])))


def load_features(path):
    """A feature file (safetensors) as {name: numpy array}, every dtype PainFace writes."""
    from safetensors.numpy import load_file
    return load_file(path)
