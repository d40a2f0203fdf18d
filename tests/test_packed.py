"""Packed datasets (issue 33): round trips, random access to one clip, damaged files, shards,
and every command that takes a dataset taking a packed one."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from stickgen_core.cli import main
from stickgen_core.errors import DatasetError
from stickgen_core.io import load_dataset, load_torch_file, sample_at, save_dataset
from stickgen_core.packed import INDEX_FILE, count_clips, read_clip, read_samples, write_packed
from stickgen_core.synth import SynthConfig, generate_dataset


def _same(a, b) -> bool:
    """Deep equality that also requires the same tensor dtypes and shapes and the same value types."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    out = generate_dataset(24, seed=5, config=SynthConfig(multi_actor_rate=0.5, min_seconds=1, max_seconds=3))
    for i, s in enumerate(out):
        s["embedding"] = torch.randn(8, generator=torch.Generator().manual_seed(i))
        s["quality_score"] = 0.25 * (i % 4)
        s["annotations"] = {"shot_type": "wide", "action_summary": None, "scores": [1, 2.5, "x"]}
    out[1]["fps"] = 30
    out[2]["fps"] = 12.5
    out[3]["source"] = None                      # present but None: kept as such
    out[4]["camera"] = None
    out[5]["extra_tensor"] = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    del out[6]["physics"]                        # absent stays absent
    out[7]["description"] = "ünïcödé — 走る 🏃"
    assert any(s["motion"].dim() == 3 for s in out), "a multi-actor [T, A, 48] clip is part of the round trip"
    return out


@pytest.fixture
def pt_file(tmp_path, samples) -> Path:
    return save_dataset(samples, tmp_path / "clips.pt")


def test_pack_unpack_round_trip_keeps_every_field(tmp_path, pt_file, capsys):
    original = load_torch_file(pt_file)
    packed, back = tmp_path / "clips.arrow", tmp_path / "back.pt"
    assert main(["pack", str(pt_file), str(packed)]) == 0
    assert main(["unpack", str(packed), str(back)]) == 0
    read = load_torch_file(packed)
    assert _same(original, list(read))
    assert _same(original, load_torch_file(back))
    assert read[5]["extra_tensor"].dtype == torch.int32 and "physics" not in read[6] and read[3]["source"] is None
    # the ids stored at write are the content ids the .pt list gets computed
    assert [s["clip_id"] for s in load_dataset(packed)] == [s["clip_id"] for s in load_dataset(pt_file)]


def test_sharded_round_trip_and_positions(tmp_path, pt_file, monkeypatch):
    out = tmp_path / "sharded"
    assert main(["pack", str(pt_file), str(out), "--shard-size", "10"]) == 0
    index = json.loads((out / INDEX_FILE).read_text())
    assert [s["clips"] for s in index["shards"]] == [10, 10, 4] and index["clips"] == 24
    original = load_torch_file(pt_file)
    assert _same(original, list(read_samples(out)))
    assert count_clips(out) == 24
    for k in (0, 9, 10, 23):  # both sides of each shard boundary
        clip, cid = read_clip(out, k)
        assert _same(original[k], clip)
        assert sample_at(out, k)["clip_id"] == cid == load_dataset(pt_file)[k]["clip_id"]
    with pytest.raises(DatasetError, match="--index 24 is out of range.*24 sample"):
        sample_at(out, 24)
    from stickgen_core import packed

    opened, real_open = [], packed._open
    monkeypatch.setattr(packed, "_open", lambda f, mapped: opened.append(f.name) or real_open(f, mapped))
    assert sample_at(out, 23)["source_index"] == 3 and opened == ["shard-00002.arrow"]  # the index places it

    mixed = tmp_path / "mixed"  # a plain folder: a .pt list, then a packed file
    mixed.mkdir()
    shutil.copy(pt_file, mixed / "a.pt")
    shutil.copy(out / "shard-00001.arrow", mixed / "b.arrow")
    got = sample_at(mixed, 24 + 3)
    assert got["source_file"] == str(mixed / "b.arrow") and got["source_index"] == 3
    assert _same(got["motion"], original[13]["motion"])
    assert main(["pack", str(pt_file), str(tmp_path / "x"), "--shard-size", "0"]) == 2


def test_one_clip_reads_only_that_clip(tmp_path, monkeypatch):
    """A 48 MB file; reading clip 77 (480 KB) takes in under 4 MB of it (measured 2.1 MB): file pages mapped into this
    process (RssFile; the maps are kept open, so what was touched stays counted) plus bytes read
    by read()/pread() (rchar)."""
    rng = np.random.default_rng(0)
    base = generate_dataset(1, seed=1, config=SynthConfig(min_seconds=4, max_seconds=4))[0]
    motion = base["motion"][:100].repeat(25, 1)  # 2,500 frames = 480 KB a clip
    clips = [dict(base, motion=motion + float(rng.random()), actions=None, physics=None, camera=None)
             for _ in range(100)]
    path = write_packed(clips, [f"{i:016x}" for i in range(100)], tmp_path / "big.arrow")
    assert path.stat().st_size > 45e6
    read_clip(path, 0)  # imports and first-use costs out of the measurement

    def taken_in_kb() -> int:
        try:
            status = Path("/proc/self/status").read_text().splitlines()
            io = Path("/proc/self/io").read_text().splitlines()
        except OSError:
            pytest.skip("no /proc/self/status or /proc/self/io")
        mapped = next(int(x.split()[1]) for x in status if x.startswith("RssFile:"))
        read = next(int(x.split()[1]) for x in io if x.startswith("rchar:")) // 1024
        return mapped + read

    maps, open_map = [], pa.memory_map
    monkeypatch.setattr(pa, "memory_map", lambda *args, **kw: maps.append(open_map(*args, **kw)) or maps[-1])
    before = taken_in_kb()
    clip, cid = read_clip(path, 77)
    grew = taken_in_kb() - before
    assert cid == f"{77:016x}" and torch.equal(clip["motion"], clips[77]["motion"])
    assert grew < 4096, f"reading one 480 KB clip took in {grew} KB of the 48 MB file"
    before = taken_in_kb()
    read_samples(path)  # the measure sees a whole read
    assert taken_in_kb() - before > 40_000


def test_damaged_packed_files_are_one_line_errors_naming_the_file(tmp_path, pt_file, capsys):
    good = tmp_path / "good.arrow"
    main(["pack", str(pt_file), str(good)])
    data = good.read_bytes()
    cases = {"truncated.arrow": data[: len(data) // 2], "empty-body.arrow": data[:8],
             "trailing-junk.arrow": data[:-40] + b"\x00" * 40}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
    foreign = tmp_path / "foreign.arrow"
    with pa.OSFile(str(foreign), "wb") as sink, pa.ipc.new_file(sink, pa.schema([("x", pa.int32())])) as w:
        w.write_batch(pa.record_batch([pa.array([1, 2], pa.int32())], names=["x"]))
    for name in [*cases, "foreign.arrow"]:
        capsys.readouterr()
        assert main(["validate", str(tmp_path / name), "--anatomy", "off"]) == 2, name
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and str(tmp_path / name) in err, err
        assert ("truncated or corrupt packed dataset" in err) or ("not a stickgen packed dataset" in err), err

    sharded = tmp_path / "sharded"
    main(["pack", str(pt_file), str(sharded), "--shard-size", "10"])
    shard = sharded / "shard-00001.arrow"
    shard.write_bytes(shard.read_bytes()[:-100])
    capsys.readouterr()
    assert main(["validate", str(sharded)]) == 2
    assert f"{shard}: truncated or rewritten shard" in capsys.readouterr().err
    shard.unlink()
    assert main(["validate", str(sharded)]) == 2
    assert f"{shard}: shard named by" in capsys.readouterr().err


def test_output_is_replaced_whole_never_in_place(tmp_path, pt_file, samples, capsys, monkeypatch):
    out = tmp_path / "set.arrow"
    assert main(["pack", str(pt_file), str(out)]) == 0
    assert main(["pack", str(pt_file), str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    old_inode = out.stat().st_ino
    held = pa.memory_map(str(out))  # a reader holding the old file keeps a valid map
    small = save_dataset(samples[:3], tmp_path / "small.pt")
    assert main(["pack", str(small), str(out), "--force"]) == 0
    assert out.stat().st_ino != old_inode and count_clips(out) == 3
    assert pa.ipc.open_file(held).num_record_batches == 1 and len(pa.ipc.open_file(held).get_batch(0)) == 24
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp folder left behind"
    folder = tmp_path / "shards"
    assert main(["pack", str(pt_file), str(folder), "--shard-size", "5"]) == 0
    assert main(["pack", str(small), str(folder), "--shard-size", "5", "--force"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [INDEX_FILE, "shard-00000.arrow"]
    assert main(["pack", str(small), str(out), "--shard-size", "2", "--force"]) == 0  # a file becomes a set
    assert out.is_dir() and count_clips(out) == 3
    assert main(["pack", str(small), str(out), "--force"]) == 0  # and back
    assert out.is_file() and count_clips(out) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp or old copy left behind"
    from stickgen_core import packed

    def full_disk(path, *args):
        Path(path).write_bytes(b"part of a shard")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(packed, "_write_file", full_disk)
    capsys.readouterr()
    assert main(["pack", str(pt_file), str(out), "--force"]) == 2
    assert f"{out}: cannot write (No space left on device); nothing was changed" in capsys.readouterr().err
    assert out.is_file() and count_clips(out) == 3  # the old set, whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "the partial write is gone"


def test_commands_take_a_packed_dataset(tmp_path, pt_file, capsys):
    packed, sharded = tmp_path / "clips.arrow", tmp_path / "sharded"
    main(["pack", str(pt_file), str(packed)])
    main(["pack", str(pt_file), str(sharded), "--shard-size", "7"])
    for path in (packed, sharded):
        capsys.readouterr()
        assert main(["validate", str(path), "--anatomy", "off"]) == 0
        assert "24 valid clip(s)" in capsys.readouterr().out
        table = tmp_path / f"{path.name}.parquet"
        assert main(["annotate", str(path), "--no-cache", "--output", str(table)]) == 0
        import pandas as pd
        got, want = pd.read_parquet(table), pd.read_parquet(_annotated(pt_file, tmp_path))
        assert got["clip_id"].tolist() == want["clip_id"].tolist()
        assert np.allclose(got["realism_score"], want["realism_score"], equal_nan=True)
        out = tmp_path / f"curated-{path.name}"
        assert main(["curate", "--inputs", str(path), "--output-dir", str(out)]) == 0
        assert len(load_torch_file(out / "pretrain_data.pt")) > 0  # a plain .pt list: weights-only loads it
        assert main(["render", str(path), "--index", "20", "--sheet", str(tmp_path / "s.png")]) == 0


def _annotated(pt_file: Path, tmp_path: Path) -> Path:
    out = tmp_path / "from-pt.parquet"
    if not out.exists():
        assert main(["annotate", str(pt_file), "--no-cache", "--output", str(out)]) == 0
    return out


def test_training_data_reads_a_packed_file(tmp_path, pt_file):
    from stickgen_core.train.data import MotionData

    packed = tmp_path / "clips.arrow"
    main(["pack", str(pt_file), str(packed)])
    a = MotionData(pt_file, val_fraction=0.25, seed=0, max_frames=64)
    b = MotionData(packed, val_fraction=0.25, seed=0, max_frames=64)
    assert (a.train_idx, a.val_idx, a.embedding_dim) == (b.train_idx, b.val_idx, b.embedding_dim)
    assert all(torch.equal(x["motion"], y["motion"]) for x, y in zip(a.samples, b.samples))


def test_a_workspace_lists_a_sharded_set(tmp_path, pt_file):
    from stickgen_core.convert import import_paths

    sharded = tmp_path / "sharded"
    main(["pack", str(pt_file), str(sharded), "--shard-size", "7"])
    main(["pack", str(pt_file), str(tmp_path / "one.arrow")])
    got = import_paths([sharded, tmp_path / "one.arrow"], tmp_path / "cache")
    assert got.problems == [] and got.samples_files == [sharded, tmp_path / "one.arrow"]
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_random_damage_is_an_error_naming_the_file_never_a_crash(tmp_path, pt_file, capsys):
    """Bytes overwritten anywhere (header, columns, offsets, footer): the file reads, or its clips
    are reported invalid, or it is a one-line error naming it; never an unexpected error or a crash."""
    good = tmp_path / "good.arrow"
    main(["pack", str(pt_file), str(good)])
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(7)
    outcomes = set()
    for case in range(120):  # a third anywhere, a third in the first and a third in the last 8 KB
        bad = bytearray(data)
        lo, hi = [(0, len(bad) - 8), (0, 8192), (len(bad) - 8192, len(bad) - 8)][case % 3]
        at = int(rng.integers(lo, hi))
        bad[at: at + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        path = tmp_path / f"damaged-{case}.arrow"
        path.write_bytes(bytes(bad))
        capsys.readouterr()
        rc = main(["validate", str(path), "--anatomy", "off"])
        err = capsys.readouterr().err
        assert "unexpected" not in err, f"byte {at}: {err}"
        assert rc in (0, 1, 2) and (rc != 2 or str(path) in err), f"byte {at}: rc {rc}: {err}"
        outcomes.add(rc)
        path.unlink()
    assert 2 in outcomes  # some damage is caught as a damaged file


def test_a_forged_index_or_batch_layout_is_refused(tmp_path, pt_file, samples, capsys):
    from stickgen_core import packed

    sharded = tmp_path / "sharded"
    main(["pack", str(pt_file), str(sharded), "--shard-size", "10"])
    index = json.loads((sharded / INDEX_FILE).read_text())
    index["shards"] = [index["shards"][0]] * 3  # one shard read three times: a dataset of copies
    (sharded / INDEX_FILE).write_text(json.dumps(index))
    capsys.readouterr()
    assert main(["validate", str(sharded)]) == 2
    assert f"{sharded / INDEX_FILE}: not a packed dataset index (a shard is named twice)" in capsys.readouterr().err

    forged = tmp_path / "forged.arrow"  # batches of 5 where the file says 2: positions would be wrong
    meta = {"format": packed.FORMAT, "version": str(packed.FORMAT_VERSION), "rows_per_batch": "2"}
    with pa.OSFile(str(forged), "wb") as sink, pa.ipc.new_file(sink, packed.SCHEMA.with_metadata(meta)) as w:
        w.write_batch(packed._record_batch(samples[:5], [f"{i:016x}" for i in range(5)], 0))
    for argv in (["validate", str(forged)], ["render", str(forged), "--index", "3", "--sheet", str(tmp_path / "x.png")]):
        capsys.readouterr()
        assert main(argv) == 2
        assert f"{forged}: corrupt packed dataset: batch 0 holds 5 clips, expected 2" in capsys.readouterr().err


def test_embedding_reads_a_packed_file(tmp_path, pt_file):
    """``embed`` takes a packed input: the texts it encodes are the packed descriptions, in order."""
    from stickgen_core.embedding import embed_dataset

    class Encoder:  # the TextEncoder surface embed_dataset uses
        name, dim, encoded = "fake", 4, 0

        def encode(self, texts, progress=None):
            self.texts = list(texts)
            return np.array([[len(t), 1, 2, 3] for t in texts], dtype=np.float32)

    packed, enc = tmp_path / "clips.arrow", Encoder()
    main(["pack", str(pt_file), str(packed)])
    embed_dataset(packed, tmp_path / "embedded.pt", enc)
    want = [s["description"] for s in load_torch_file(pt_file)]
    assert enc.texts == want
    got = load_dataset(tmp_path / "embedded.pt")
    assert [float(s["embedding"][0]) for s in got] == [float(len(t)) for t in want]
