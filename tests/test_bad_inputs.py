"""A corpus of bad files and bad samples: each must give its own clear error."""

import gzip
import os
import pickle
import subprocess
import sys

import pytest
import torch

from stickgen_core.errors import DatasetError, SampleValidationError, UnsafeFileError
from stickgen_core.io import load_dataset
from stickgen_core.synth import SynthConfig, generate_sample

GOOD = generate_sample(0, seed=3, config=SynthConfig(multi_actor_rate=0.0, min_seconds=2, max_seconds=3))
T = len(GOOD["motion"])


class _Opaque:
    """Harmless, but not a plain type: safe loading must still refuse it."""


def _write(tmp_path, obj, name="bad.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def _raw(tmp_path, data: bytes, name="bad.pt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _truncated(tmp_path, keep):
    good = _write(tmp_path, [GOOD], "good.pt").read_bytes()
    return _raw(tmp_path, good[: int(len(good) * keep)] if keep < 1 else good[:100])


def _sample(**changes):
    s = dict(GOOD)
    for k, v in changes.items():
        if v is _DROP:
            s.pop(k)
        else:
            s[k] = v
    return s


_DROP = object()
_m = GOOD["motion"]


def _disconnected():
    m = _m.clone()
    m[:, 8 * 4 + 0] += 0.3  # l_shin no longer starts at the knee
    return m


FILE_CASES = {
    "missing file": (lambda p: p / "nope.pt", DatasetError, ["nope.pt", "no such file"]),
    "empty file": (lambda p: _raw(p, b""), DatasetError, ["bad.pt", "empty"]),
    "text file": (lambda p: _raw(p, b"description,motion\nwalk,1 2 3\n"), DatasetError, ["bad.pt", "not a torch file"]),
    "random bytes": (lambda p: _raw(p, os.urandom(4096)), DatasetError, ["bad.pt", "torch"]),
    "gzip file": (lambda p: _raw(p, gzip.compress(b"x" * 1000)), DatasetError, ["bad.pt", "not a torch file"]),
    "plain pickle": (lambda p: _raw(p, pickle.dumps([1, 2, 3])), DatasetError, ["bad.pt", "not a torch file"]),
    "truncated half": (lambda p: _truncated(p, 0.5), DatasetError, ["bad.pt", "truncated or corrupt"]),
    "truncated head": (lambda p: _truncated(p, 2), DatasetError, ["bad.pt", "truncated or corrupt"]),
    "pickled object": (lambda p: _write(p, [_Opaque()]), UnsafeFileError, ["bad.pt", "refused", "nothing in it was run"]),
    "numpy arrays": (lambda p: _write(p, [{"motion": _m.numpy()}]), UnsafeFileError, ["bad.pt", "numpy"]),
    "top-level tensor": (lambda p: _write(p, torch.zeros(3)), DatasetError, ["bad.pt", "expected a list of samples", "Tensor"]),
    "top-level int": (lambda p: _write(p, 42), DatasetError, ["bad.pt", "got int"]),
    "dict without sequences": (lambda p: _write(p, {"clips": [GOOD]}), DatasetError, ["bad.pt", "key 'sequences'", "clips"]),
    "sequences not a list": (lambda p: _write(p, {"sequences": "walk"}), DatasetError, ["bad.pt", "got str"]),
    "empty folder": (lambda p: (p / "empty").mkdir() or p / "empty", DatasetError, ["empty", "no dataset files"]),
}

SAMPLE_CASES = {
    "sample is a string": ("a person walks", "expected a dict"),
    "missing motion": (_sample(motion=_DROP), "motion: missing required key"),
    "missing description": (_sample(description=_DROP), "description: missing required key"),
    "description not str": (_sample(description=7), "description: expected str"),
    "motion wrong width": (_sample(motion=_m[:, :40]), "expected shape [T, 48] or [T, A, 48]"),
    "motion 4-D": (_sample(motion=_m[:, None, None, :]), "expected shape [T, 48] or [T, A, 48]"),
    "motion int dtype": (_sample(motion=_m.to(torch.int32)), "floating-point"),
    "motion a list": (_sample(motion=_m.tolist()), "expected a float tensor"),
    "motion NaN": (_sample(motion=torch.where(torch.arange(T)[:, None] == 3, float("nan"), _m)), "NaN/inf in 1 frame(s), first at frame 3"),
    "motion inf": (_sample(motion=_m * float("inf")), "NaN/inf"),
    "zero frames": (_sample(motion=_m[:0], actions=_DROP, physics=_DROP, camera=_DROP), "T >= 1"),
    "disconnected joints": (_sample(motion=_disconnected()), "disconnected joints (l_knee)"),
    "actions wrong length": (_sample(actions=GOOD["actions"][:-2]), f"actions: expected shape [T] with T={T}"),
    "actions float": (_sample(actions=GOOD["actions"].float()), "actions: expected an integer dtype"),
    "actions negative": (_sample(actions=GOOD["actions"] - 5), "expected action indices in [0,"),
    "actions too large": (_sample(actions=GOOD["actions"] + 100), "expected action indices in [0,"),
    "physics wrong width": (_sample(physics=GOOD["physics"][:, :4]), "physics: expected shape [T, 6]"),
    "physics NaN": (_sample(physics=GOOD["physics"] * float("nan")), "physics: expected finite values"),
    "camera wrong length": (_sample(camera=GOOD["camera"][:5]), "camera: expected shape [T, 3]"),
    "embedding 2-D": (_sample(embedding=torch.zeros(2, 384)), "embedding: expected shape [D]"),
    "source not str": (_sample(source=3), "source: expected str"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_file_gives_clear_error(tmp_path, case):
    build, exc_type, needles = FILE_CASES[case]
    path = build(tmp_path)
    with pytest.raises(exc_type) as err:
        load_dataset(path)
    message = str(err.value)
    for needle in needles:
        assert needle in message, f"{case}: {needle!r} not in {message!r}"
    assert "Traceback" not in message and len(message) < 600


@pytest.mark.parametrize("case", sorted(SAMPLE_CASES))
def test_bad_sample_gives_clear_error_with_its_index(tmp_path, case):
    bad, needle = SAMPLE_CASES[case]
    path = _write(tmp_path, [GOOD, GOOD, bad])
    with pytest.raises(SampleValidationError) as err:
        load_dataset(path)
    message = str(err.value)
    assert "bad.pt sample 2" in message and needle in message, message
    ds = load_dataset(path, skip_invalid=True)
    assert len(ds) == 2 and ds.skipped[0].index == 2


def test_corpus_is_large_enough():
    assert len(FILE_CASES) + len(SAMPLE_CASES) >= 25


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_running_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "PWNED"
    path = _write(tmp_path, [_Evil(marker)], "evil.pt")
    assert not marker.exists()
    with pytest.raises(UnsafeFileError) as err:
        load_dataset(path)
    assert "evil.pt" in str(err.value) and "system" in str(err.value)
    assert not marker.exists()


def test_cli_reports_unsafe_file_without_traceback(tmp_path):
    marker = tmp_path / "PWNED"
    path = _write(tmp_path, {"sequences": [_Evil(marker)]}, "evil.pt")
    proc = subprocess.run([sys.executable, "-m", "stickgen_core.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "evil.pt" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()
