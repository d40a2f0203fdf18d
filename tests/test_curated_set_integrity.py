"""The curated set stays whole: kill -9 at every step, two writers, a folder curated into itself,
a forged annotation cache, stale temp files, and an input truncated while it is read."""

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from stickgen_core.annotate import annotate, file_digest
from stickgen_core.cli import main
from stickgen_core.curation import CurationConfig, apply_thresholds, export_splits
from stickgen_core.curation.export import PRETRAIN_FILE, SFT_FILE, STATS_FILE, THRESHOLDS_FILE
from stickgen_core.errors import DatasetError
from stickgen_core.io import clip_id
from stickgen_core.paths import OutputLock
from stickgen_core.synth import SynthConfig, generate_dataset

LOOSE = CurationConfig(min_quality_pretrain=0.0, min_realism_pretrain=0.0, max_artifact_score=1.0, min_frames=1)
STRICT = CurationConfig(min_quality_pretrain=0.6, min_quality_sft=0.9)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "clips.pt"
    torch.save(generate_dataset(60, seed=5, config=SynthConfig(defect_rate=0.4, max_seconds=4)), path)
    table = annotate(path)
    return path, table


def _consistent_set(out):
    """(pretrain count, min_quality_pretrain) of the published set, checking its four files agree."""
    stats = json.loads((out / STATS_FILE).read_text())
    thresholds = yaml.safe_load((out / THRESHOLDS_FILE).read_text())["data_curation"]
    pre = torch.load(out / PRETRAIN_FILE, weights_only=True)
    sft = torch.load(out / SFT_FILE, weights_only=True)
    assert stats["pretrain"] == len(pre) and stats["sft"] == len(sft), "stats do not describe the data"
    assert stats["config"] == thresholds
    return len(pre), thresholds["min_quality_pretrain"]


def _export_in_child(table, cfg, out, kill_at_replace=None, start_fd=None):
    """Fork a child that exports; it SIGKILLs itself at its ``kill_at_replace``-th os.replace."""
    pid = os.fork()
    if pid:
        return pid
    try:
        if start_fd is not None:
            os.read(start_fd, 1)
        if kill_at_replace is not None:
            real, count = os.replace, [0]

            def replace(a, b):
                count[0] += 1
                if count[0] == kill_at_replace:
                    os.kill(os.getpid(), signal.SIGKILL)
                real(a, b)

            os.replace = replace
        export_splits(table, apply_thresholds(table, cfg), out, cfg)
        os._exit(0)
    except DatasetError:
        os._exit(3)
    except BaseException:
        os._exit(1)


def test_kill_9_at_every_step_leaves_the_old_set_or_the_new_one(tmp_path, source):
    _, table = source
    out = tmp_path / "curated"
    export_splits(table, apply_thresholds(table, LOOSE), out, LOOSE)
    old = _consistent_set(out)
    new_count = int(apply_thresholds(table, STRICT).pretrain.sum())
    assert new_count != old[0]
    killed = 0
    for k in range(1, 12):
        _, status = os.waitpid(_export_in_child(table, STRICT, out, kill_at_replace=k), 0)
        seen = _consistent_set(out)
        if os.WIFSIGNALED(status):
            killed += 1
            assert seen in (old, (new_count, STRICT.min_quality_pretrain))
        else:  # k went past the export's last rename: it finished
            assert os.WEXITSTATUS(status) == 0 and seen == (new_count, STRICT.min_quality_pretrain)
            break
        export_splits(table, apply_thresholds(table, LOOSE), out, LOOSE)  # back to the old set
    assert killed >= 4
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".gen-")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".gen-")  # only the published generation


def test_two_writers_never_mix_their_sets(tmp_path, source):
    _, table = source
    out = tmp_path / "curated"
    outcomes = []
    for _ in range(5):
        r, w = os.pipe()
        pids = [_export_in_child(table, cfg, out, start_fd=r) for cfg in (LOOSE, STRICT)]
        os.write(w, b"go")
        codes = [os.WEXITSTATUS(os.waitpid(p, 0)[1]) for p in pids]
        os.close(r), os.close(w)
        assert set(codes) <= {0, 3} and 0 in codes  # 3: refused by the lock, with a clear error
        outcomes.append(codes)
        _consistent_set(out)
    with OutputLock(out):
        with pytest.raises(DatasetError, match="another stickgen process"):
            export_splits(table, apply_thresholds(table, LOOSE), out, LOOSE)


def test_curating_a_folder_into_itself_adds_no_duplicates(tmp_path, source):
    path, _ = source
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "clips.pt").write_bytes(path.read_bytes())
    args = ["curate", "--inputs", str(folder), "--output-dir", str(folder), "--min-quality-pretrain", "0"]
    assert main(args) == 0
    first = torch.load(folder / PRETRAIN_FILE, weights_only=True)
    assert main(args) == 0
    second = torch.load(folder / PRETRAIN_FILE, weights_only=True)
    assert len(second) == len(first)
    ids = [clip_id(s) for s in second]
    assert len(set(ids)) == len(ids)


def test_the_same_clip_twice_counts_once(tmp_path, source):
    path, _ = source
    copy = tmp_path / "copy.pt"
    copy.write_bytes(path.read_bytes())
    table = annotate([path, copy])
    result = apply_thresholds(table, LOOSE)
    n_valid = int(table["valid"].sum()) // 2
    assert result.stats["dropped_by_reason"]["duplicate"] == n_valid
    assert result.pretrain.sum() <= n_valid


def test_a_forged_annotation_cache_cannot_admit_a_nan_clip(tmp_path):
    clips = generate_dataset(4, seed=2, config=SynthConfig(multi_actor_rate=0.0, max_seconds=3))
    clips[1] = dict(clips[1], motion=clips[1]["motion"].clone())
    clips[1]["motion"][2, 2] = float("nan")
    path = tmp_path / "d.pt"
    torch.save(clips, path)
    table = annotate(path)
    assert not table.loc[1, "valid"]
    (cache,) = (tmp_path / ".stickgen-cache").glob(f"d.{file_digest(path)}.*.parquet")
    forged = pd.read_parquet(cache).copy(deep=True)
    good = forged.loc[0]
    for col in forged.columns:
        if col not in ("index", "description", "clip_key"):
            forged.at[1, col] = good[col]
    forged.at[1, "clip_id"] = clip_id(clips[1])
    forged.to_parquet(cache, index=False)
    table = annotate(path)
    assert table.loc[1, "valid"]  # the forged cache is believed for the table ...
    with pytest.raises(DatasetError, match=r"d.pt: sample 1 is invalid \(motion: expected finite"):
        export_splits(table, apply_thresholds(table, LOOSE), tmp_path / "out", LOOSE)  # ... never for the data
    assert not (tmp_path / "out" / PRETRAIN_FILE).exists()


def test_stale_temp_files_of_dead_writers_are_cleaned(tmp_path, source):
    _, table = source
    out = tmp_path / "curated"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".{PRETRAIN_FILE}.{int(dead.stdout)}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    live = out / f".{SFT_FILE}.{os.getppid()}.abc123.tmp"  # a process that still runs: its file is in use
    live.write_bytes(b"y")
    export_splits(table, apply_thresholds(table, LOOSE), out, LOOSE)
    assert not stale.exists() and live.exists()


TRUNCATE_WHILE_READING = """
import sys, torch
real = torch.load
def load(path, *a, **k):
    obj = real(path, *a, **k)
    open(path, "r+b").truncate(0)  # another program rewrites the file while we still use what we read
    return obj
torch.load = load
from stickgen_core.cli import main
sys.exit(main(["annotate", "--no-cache", sys.argv[1]]))
"""


def test_an_input_truncated_while_annotated_never_kills_the_process(tmp_path, source):
    path, _ = source
    victim = tmp_path / "clips.pt"
    victim.write_bytes(path.read_bytes())
    p = subprocess.run([sys.executable, "-c", TRUNCATE_WHILE_READING, str(victim)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])  # a memory map would die here with SIGBUS (-7)
    assert "clips (" in p.stdout
