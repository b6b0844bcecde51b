"""Python API over the painface engine (the `painface` executable): runs it, returns pandas
DataFrames. The engine is the one bundled in this package (scripts/package_python.sh), else
$PAINFACE_BIN, else `painface` on PATH."""
import json
import os
import shutil
import subprocess
import tempfile

__all__ = ["PainFaceError", "engine", "infer", "extract", "load_features", "models"]
__version__ = "0.1.0"

_HERE = os.path.dirname(os.path.abspath(__file__))


class PainFaceError(RuntimeError):
    """The engine failed: `message` is its first error line (`errors`: every one), `status` its
    exit status (1: some inputs failed, the others were written; 64: usage)."""

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


_TEXT = {"video": str, "frame_file": str, "label": str, "source": str}


def _read(path, ints):
    """A PainFace CSV: only an empty field is missing (a label or video named "NA" stays a
    string), text columns stay text, `ints` are int64."""
    import pandas as pd
    table = pd.read_csv(path, dtype=_TEXT, keep_default_na=False, na_values=[""])
    for c in _TEXT:
        if c in table:
            table[c] = table[c].fillna("")
    for c in ints:
        table[c] = table[c].astype("int64")
    return table


def infer(folders, head=None, model=None, per_frame=False, threads=None, **options):
    """Runs `painface infer` on frame folders. Returns the per-video DataFrame (video, label,
    p_..., face_coverage, frames_used, frames_total), or (videos, frames) with per_frame=True
    (video, frame: 0-based index in reading order, frame_file, source, label, p_...). Other
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
        videos = _read(out, ["frames_used", "frames_total"])
        if not per_frame:
            return videos
        return videos, _read(os.path.join(tmp, "infer.frames.csv"), ["frame"])


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


def models():
    """The models the engine finds, as a DataFrame (`painface models --json`)."""
    import pandas as pd
    return pd.DataFrame(json.loads(_run(["models", "--json"])))


def load_features(path):
    """A feature file (safetensors) as {name: numpy array}, every dtype PainFace writes."""
    from safetensors.numpy import load_file
    return load_file(path)
