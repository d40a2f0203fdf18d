"""``convert`` and ``import_paths`` on hostile and broken inputs (issue 31 items 1, 3, 7, 9).

Every case ends in a DatasetError naming the file (a one-line ``error:`` in the CLI), quickly,
or in a correct result; a folder holding them all converts its good files and lists the rest.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stickgen_core.convert import convert_file, convert_folder, import_paths
from stickgen_core.convert.bvh import parse_bvh
from stickgen_core.errors import DatasetError, StickGenError
from stickgen_core.synth import generate_dataset
from tests.bvh_fixtures import make_bvh

GOOD = make_bvh("mixamo", frames=30)


def _sub(pattern: str, repl: str, count: int = 1) -> str:
    out, n = re.subn(pattern, repl, GOOD, count=count, flags=re.M)
    assert n, pattern
    return out


#: a negative count once moved the parser's index back, forever: only ever parsed in a child with a deadline
NEGATIVE = _sub(r"CHANNELS 3", "CHANNELS -2")
#: name -> (BVH text, what the error must say)
BAD_BVH = {
    "channel count past the names": (_sub(r"CHANNELS 3 (\w+) (\w+) (\w+)", r"CHANNELS 7 \1 \2 \3"), "CHANNELS 7"),
    "channel name not X/Y/Z": (_sub(r"CHANNELS 3 Zrotation", "CHANNELS 3 Wrotation"), "channel 'Wrotation'"),
    "channel name unknown": (_sub(r"CHANNELS 3 Zrotation", "CHANNELS 3 Zscale"), "channel 'Zscale'"),
    "four rotation channels": (_sub(r"CHANNELS 3 (\w+) (\w+) (\w+)", r"CHANNELS 4 \1 \2 \3 Xrotation"),
                               "repeats a rotation axis"),
    "Frames: 0": (_sub(r"^Frames: \d+", "Frames: 0"), "'Frames: 0': expected at least 2 frames"),
    "Frames: -3": (_sub(r"^Frames: \d+", "Frames: -3"), "'Frames: -3'"),
    "Frames: many": (_sub(r"^Frames: \d+", "Frames: many"), "are not a whole number"),
    "Frame Time 0": (_sub(r"^Frame Time: .*$", "Frame Time: 0"), "expected a positive number of seconds"),
    "Frame Time nan": (_sub(r"^Frame Time: .*$", "Frame Time: nan"), "expected a positive number of seconds"),
    "Frame Time 1e4": (_sub(r"^Frame Time: .*$", "Frame Time: 1e4"), "STICKGEN_MAX_CONVERT_FRAMES"),
    "Frame Time 1e6": (_sub(r"^Frame Time: .*$", "Frame Time: 1e6"), "STICKGEN_MAX_CONVERT_FRAMES"),
    "Frame Time 1e300": (_sub(r"^Frame Time: .*$", "Frame Time: 1e300"), "STICKGEN_MAX_CONVERT_FRAMES"),
    "missing closing brace": (GOOD.replace("}\nMOTION", "MOTION"), "1 '{' not closed by '}'"),
    "JOINT in place of ROOT": (GOOD.replace("ROOT ", "JOINT "), "JOINT 'mixamorig:Hips' outside a joint's braces"),
    "second ROOT": (GOOD.replace("}\nMOTION", "}\nROOT Other\n{\n OFFSET 0 0 0\n}\nMOTION"), "a second ROOT"),
    "extra closing brace": (GOOD.replace("}\nMOTION", "}\n}\nMOTION"), "'}' without a matching '{'"),
    "OFFSET with two numbers": (_sub(r"OFFSET (\S+) (\S+) (\S+)\n(\s+)CHANNELS 3", r"OFFSET \1 \2\n\4CHANNELS 3"),
                                "OFFSET expects 3 finite numbers"),
    "OFFSET inf": (_sub(r"OFFSET (\S+) (\S+) (\S+)\n(\s+)CHANNELS 3", r"OFFSET inf \2 \3\n\4CHANNELS 3"),
                   "OFFSET expects 3 finite numbers"),
    "End Site outside a joint": (GOOD.replace("HIERARCHY\n", "HIERARCHY\nEnd Site\n{\n}\n"), "End Site outside"),
    "no brace after joint": (_sub(r"(JOINT mixamorig:Spine)\n(\s*)\{", r"\1\n\2OFFSET 0 0 0"), "expected '{'"),
    "text in the motion": (GOOD[:-20] + " abc\n", "not a number"),
    "nan in the motion": (GOOD.rsplit("\n", 2)[0] + "\n" + " ".join(["nan"] * len(GOOD.rsplit("\n", 2)[1].split())) + "\n",
                          "MOTION frame 29 holds NaN"),
    "values short": (GOOD.rsplit("\n", 3)[0] + "\n", "MOTION holds"),
    "one value too many": (GOOD.rstrip("\n") + " 0.5\n", "not a whole number of frames of 90 channels"),
    "one value lost": (GOOD.rstrip("\n").rsplit(" ", 1)[0] + "\n", "MOTION holds 2699 values, expected 30 frames x 90"),
    "Frames: 10^8": (_sub(r"^Frames: \d+", "Frames: 100000000"), "MOTION holds"),
    "no MOTION": (GOOD.split("MOTION")[0], "not a BVH file"),
    "empty": ("", "not a BVH file"),
    "binary": ("\x00\x01HIERARCHY\x00MOTION\xff", "malformed BVH"),
    "one joint": ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n}\nMOTION\n"
                  "Frames: 2\nFrame Time: 0.04\n0 0 0\n0 0 0\n", "cannot place joint(s)"),
}


@pytest.mark.parametrize("name", list(BAD_BVH))
def test_bad_bvh_is_one_clear_error_naming_the_file(name, tmp_path):
    text, expected = BAD_BVH[name]
    path = tmp_path / "bad.bvh"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(DatasetError) as err:
        convert_file(path, "bvh")
    msg = str(err.value)
    assert msg.startswith(str(path)) and expected in msg, msg
    assert "\n" not in msg and len(msg) < 2000


def test_negative_channel_count_does_not_hang(tmp_path):
    """The parser's index once moved back by the negative count, forever: run in a child with a deadline."""
    path = tmp_path / "neg.bvh"
    path.write_text(NEGATIVE)
    code = ("import sys; from stickgen_core.convert.bvh import parse_bvh\n"
            "try:\n    parse_bvh(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("parse_bvh still running after 30 s on CHANNELS -2")
    assert out.stdout.startswith("DatasetError") and "CHANNELS -2 of joint 'mixamorig:Spine': expected a count " \
        "from 0 to 6" in out.stdout, out.stdout + out.stderr[-500:]


def test_output_length_cap_at_its_limit_and_one_past(tmp_path, monkeypatch):
    """30 frames at 1 fps resample to 726 frames at 25 fps: allowed at a cap of 726, refused at 725."""
    path = tmp_path / "slow.bvh"
    path.write_text(_sub(r"^Frame Time: .*$", "Frame Time: 1"))
    monkeypatch.setenv("STICKGEN_MAX_CONVERT_FRAMES", "726")
    assert len(convert_file(path, "bvh")[0]["motion"]) == 726
    monkeypatch.setenv("STICKGEN_MAX_CONVERT_FRAMES", "725")
    with pytest.raises(DatasetError, match=r"slow.bvh: 30 frames at 1 fps .* 726 frames at 25 fps: more than a "
                                           r"converted clip may hold \(725\); raise STICKGEN_MAX_CONVERT_FRAMES"):
        convert_file(path, "bvh")


def test_bvh_size_cap_at_its_limit_and_one_past(tmp_path, monkeypatch):
    path = tmp_path / "big.bvh"
    path.write_text(GOOD)
    size = path.stat().st_size
    monkeypatch.setenv("STICKGEN_MAX_BVH_BYTES", str(size))
    assert len(parse_bvh(path).motion) == 30
    monkeypatch.setenv("STICKGEN_MAX_BVH_BYTES", str(size - 1))
    with pytest.raises(DatasetError, match=r"big.bvh: .* more than a BVH file may hold .*STICKGEN_MAX_BVH_BYTES"):
        parse_bvh(path)


def test_special_files_are_refused_before_reading(tmp_path):
    import os

    fifo = tmp_path / "pipe.bvh"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="pipe.bvh: is a pipe"):
        parse_bvh(fifo)
    with pytest.raises(DatasetError, match="is a device"):
        parse_bvh("/dev/zero")


def test_a_name_with_spaces_and_braces_on_the_same_line_parse(tmp_path):
    text = GOOD.replace("mixamorig:", "Bip01 ").replace("\n{", " {", 3)
    path = tmp_path / "spaced.bvh"
    path.write_text(text)
    assert parse_bvh(path).joints[0].name == "Bip01 Hips"
    assert convert_file(path, "bvh")[0]["meta"]["rig_joints"]["l_shoulder"] == "Bip01 LeftArm"


def _reference_cases(d: Path) -> dict[str, Path]:
    s = generate_dataset(1, seed=0)[0]

    def save(name, sample):
        torch.save([sample], d / name)
        return d / name

    v1 = {"description": "x", "motion": torch.zeros(10, 20), "actions": torch.zeros(10, dtype=torch.long)}
    return {
        "meta of the wrong type": save("meta.pt", dict(s, meta=[1, 2])),
        "v1 without actions": save("v1na.pt", {"motion": torch.zeros(10, 20), "description": "x"}),
        "v1 annotations of the wrong type": save("v1ann.pt", dict(v1, annotations=[1])),
        "v1 description not text": save("v1d.pt", dict(v1, description=5)),
        "v1 0 actors": save("a0.pt", dict(v1, motion=torch.zeros(10, 0, 20), actions=torch.zeros(10, 0, dtype=torch.long))),
        "v1 T = 0": save("t0.pt", dict(v1, motion=torch.zeros(0, 20), actions=torch.zeros(0, dtype=torch.long))),
        "v1 actions of another length": save("v1al.pt", dict(v1, actions=torch.zeros(7, dtype=torch.long))),
        "v1 camera of another length": save("v1c.pt", dict(v1, camera=torch.zeros(3, 3))),
        "v1 action index past the vocabulary": save("v1ai.pt", dict(v1, actions=torch.full((10,), 999))),
    }


def _npy_cases(d: Path) -> dict[str, Path]:
    (j := d / "new_joints").mkdir(exist_ok=True)
    (j / "empty.npy").write_bytes(b"")
    (j / "renamed.npy").write_text("hello")
    np.save(j / "strings.npy", np.full((4, 22, 3), "a"))
    np.save(j / "t0.npy", np.zeros((0, 22, 3)))
    np.save(j / "shape.npy", np.zeros((4, 21, 3)))
    return {p.stem: p for p in sorted(j.glob("*.npy"))}


def test_reference_and_npy_oddities_are_one_clear_error(tmp_path):
    cases = {**{k: (p, "reference") for k, p in _reference_cases(tmp_path).items()},
             **{k: (p, "humanml3d") for k, p in _npy_cases(tmp_path).items()}}
    for name, (path, fmt) in cases.items():
        with pytest.raises(StickGenError) as err:
            convert_file(path, fmt)
        assert str(path) in str(err.value) and "\n" not in str(err.value), (name, str(err.value))


def test_an_empty_sidecar_leaves_the_file_name_as_description(tmp_path):
    (tmp_path / "slow_walk.bvh").write_text(GOOD)
    (tmp_path / "slow_walk.txt").write_text("")
    assert convert_file(tmp_path / "slow_walk.bvh", "bvh")[0]["description"]


def test_a_folder_of_hostile_files_converts_the_good_ones_and_lists_the_rest(tmp_path):
    (d := tmp_path / "mix").mkdir()
    for k, (text, _) in enumerate(BAD_BVH.values()):
        (d / f"bad{k:02d}.bvh").write_text(text, encoding="utf-8", errors="surrogateescape")
    for k in range(3):
        (d / f"good{k}.bvh").write_text(GOOD)
    res = convert_folder(d, "bvh")
    assert [p.name for p in res.converted] == ["good0.bvh", "good1.bvh", "good2.bvh"] and len(res.samples) == 3
    assert len(res.failures) == len(BAD_BVH)
    assert all(line.startswith(str(d / "bad")) and "\n" not in line for line in res.summary_lines())
    # the studio's import: same files plus reference and npy oddities; the good ones come through
    paths = [*sorted(d.glob("*.bvh")), *_reference_cases(tmp_path).values(), *_npy_cases(tmp_path).values()]
    out = import_paths(paths, tmp_path / "cache")
    # a v3 .pt file is a dataset of ours and is used as it is (the loader judges its samples)
    assert len(out.samples_files) == 4 and out.samples_files[-1].name == "meta.pt"
    assert len(out.problems) == len(paths) - 4
    assert all(Path(f).name in msg and "unexpected" not in msg for f, msg in out.problems)
