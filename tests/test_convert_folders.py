"""``stickgen convert`` on folders: what converts is written, the rest listed beside it; exit 0 / 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from stickgen_core.cli import main
from stickgen_core.convert import convert_folder
from stickgen_core.io import load_dataset
from tests.bvh_fixtures import write_bvh


def _folder(root: Path, good: int, bad: int) -> Path:
    (d := root / "captures" / "sub").mkdir(parents=True)  # sub-folders are read too
    d = d.parent
    for k, conv in zip(range(good), ["mixamo", "unreal", "suffix", "cmu", "rigify", "biped"] * 10):
        write_bvh((d / "sub" if k % 2 else d) / f"g{k}_{conv}.bvh", conv, frames=40)
    for k in range(bad):
        (d / f"z_bad{k}.bvh").write_text("HIERARCHY\nROOT Hips\n{\nMOTION\n")
    return d


def test_folder_with_bad_files_converts_the_good_ones(tmp_path, capsys):
    src = _folder(tmp_path, good=3, bad=2)
    out = tmp_path / "out" / "c.pt"
    assert main(["convert", str(src), "--format", "bvh", "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "wrote 3 clip(s) from 3 of 5 file(s)" in text.out and "2 file(s) failed" in text.out
    assert "2 of 5 file(s) did not convert" in text.err and "z_bad0.bvh: malformed BVH hierarchy" in text.err
    assert len(load_dataset(out)) == 3
    errors = (tmp_path / "out" / "c.errors.txt").read_text().splitlines()
    assert [Path(line.split(": ")[0]).name for line in errors] == ["z_bad0.bvh", "z_bad1.bvh"]
    # fixed files: the next run converts all, and the stale list goes
    for p in src.glob("z_bad*.bvh"):
        p.unlink()
    assert main(["convert", str(src), "--format", "bvh", "--out", str(out)]) == 0
    assert not (tmp_path / "out" / "c.errors.txt").exists()


def test_folder_where_nothing_converts_exits_2_and_writes_nothing(tmp_path, capsys):
    src = _folder(tmp_path, good=0, bad=2)
    out = tmp_path / "c.pt"
    assert main(["convert", str(src), "--format", "bvh", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "none of its 2 file(s) converted" in err and not out.exists()


def test_one_bad_file_is_the_commands_error(tmp_path, capsys):
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT Hips\n{\nMOTION\n")
    assert main(["convert", str(tmp_path / "bad.bvh"), "--format", "bvh", "--out", str(tmp_path / "c.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "bad.bvh" in err[0]


def test_units_and_scale_flags_reach_the_clips(tmp_path, capsys):
    path = write_bvh(tmp_path / "w.bvh", "xsens", frames=40, units="in")
    assert main(["convert", str(path), "--format", "bvh", "--out", str(tmp_path / "c.pt")]) == 0
    assert "units in;" in capsys.readouterr().out
    assert main(["convert", str(path), "--format", "bvh", "--out", str(tmp_path / "c.pt"), "--units", "cmu"]) == 0
    assert load_dataset(tmp_path / "c.pt")[0]["meta"]["units"] == "cmu"
    assert main(["convert", str(path), "--format", "bvh", "--out", str(tmp_path / "c.pt"), "--scale", "0.0254",
                 "--target-height", "0"]) == 0
    assert load_dataset(tmp_path / "c.pt")[0]["meta"]["units"] == "scale 0.0254"


def test_two_processes_give_the_same_clips_in_file_order(tmp_path):
    src = _folder(tmp_path, good=4, bad=1)
    one = convert_folder(src, "bvh", jobs=1)
    two = convert_folder(src, "bvh", jobs=2)
    assert [p.name for p in two.converted] == [p.name for p in one.converted]
    assert two.failures == one.failures and len(two.failures) == 1
    for a, b in zip(one.samples, two.samples):
        assert a["description"] == b["description"] and (a["motion"] == b["motion"]).all()


def test_jobs_must_be_positive(tmp_path):
    from stickgen_core.errors import DatasetError

    with pytest.raises(DatasetError, match="--jobs: expected a whole number of processes >= 1, got 0"):
        convert_folder(_folder(tmp_path, good=1, bad=0), "bvh", jobs=0)
