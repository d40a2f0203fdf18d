"""The training data streams a packed split (issue 33): clips read by position as batches are made,
the same batches as the loaded split, DDP ranks read only their own batches, and an epoch runs
under a data limit far below the split's size."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from stickgen_core.errors import DatasetError, SampleValidationError
from stickgen_core.io import clip_ids, save_dataset
from stickgen_core.packed import write_packed
from stickgen_core.packed_reader import PackedReader
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train.data import MotionData


@pytest.fixture(scope="module")
def clips() -> list[dict]:
    out = generate_dataset(23, seed=3, config=SynthConfig(min_seconds=1, max_seconds=5, multi_actor_rate=0.2))
    for i, s in enumerate(out):
        s["embedding"] = torch.randn(8, generator=torch.Generator().manual_seed(i))
        if i % 4 == 1:
            s.pop("physics")  # absent physics counts as zeros in the scale, as when loaded
    return out


@pytest.fixture()
def both(tmp_path, clips) -> tuple[MotionData, MotionData]:
    pt = save_dataset(clips, tmp_path / "c.pt")
    packed = write_packed(clips, clip_ids(clips), tmp_path / "set", shard_size=6)
    kw = dict(val_fraction=0.2, seed=4, max_frames=40)  # most clips are longer: crops are drawn
    return MotionData(pt, **kw), MotionData(packed, **kw)


def _same(a, b) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)


def test_a_packed_split_streams_the_batches_a_loaded_one_makes(both):
    loaded, streamed = both
    assert streamed.streamed and not loaded.streamed and isinstance(streamed.samples, PackedReader)
    assert (streamed.train_idx, streamed.val_idx, streamed.embedding_dim) == \
        (loaded.train_idx, loaded.val_idx, loaded.embedding_dim)
    assert torch.allclose(streamed.first_pose, loaded.first_pose, atol=1e-6)
    assert torch.allclose(streamed.physics_scale, loaded.physics_scale, rtol=1e-5)
    for epoch in (0, 1):
        a = list(loaded.batches("train", 4, epoch, seed=4))
        b = list(streamed.batches("train", 4, epoch, seed=4))
        assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    assert streamed.batch_clip_ids("train", 4, 1, 4, 2) == loaded.batch_clip_ids("train", 4, 1, 4, 2)


@pytest.mark.parametrize("world", [2, 3])
def test_each_ddp_rank_reads_only_its_own_batches_with_the_straight_run_crops(both, monkeypatch, world):
    loaded, streamed = both
    straight = list(loaded.batches("train", 3, 2, seed=4))
    reads: list[int] = []
    real = PackedReader.__getitem__
    monkeypatch.setattr(PackedReader, "__getitem__", lambda self, i: reads.append(i) or real(self, i))
    order, _ = streamed._order("train", 2, 4)
    for rank in range(world):
        reads.clear()
        got = list(streamed.batches("train", 3, 2, seed=4, keep=lambda i: i % world == rank and i >= 1))
        mine = [i for i in range(len(got)) if i % world == rank and i >= 1]
        assert [i for i, g in enumerate(got) if g is not None] == mine
        assert all(_same(got[i], straight[i]) for i in mine)  # crops as if every batch had been made
        assert sorted(reads) == sorted(k for i in mine for k in order[3 * i: 3 * i + 3])


def test_an_invalid_clip_is_named_when_its_batch_is_read(tmp_path, clips):
    bad = [dict(s) for s in clips[:6]]
    m = bad[4]["motion"].clone()
    m[3, ..., 0] = float("nan")
    bad[4]["motion"] = m
    data = MotionData(write_packed(bad, clip_ids(bad), tmp_path / "b.arrow"), val_fraction=0, seed=0, max_frames=40)
    with pytest.raises(SampleValidationError, match=r"b\.arrow sample 4: motion: expected finite"):
        list(data.batches("train", 2, 0, seed=0))


def test_missing_or_mixed_embeddings_are_refused_before_training(tmp_path, clips):
    a = [dict(s) for s in clips[:4]]
    a[2].pop("embedding")
    with pytest.raises(DatasetError, match="sample 2 has no 'embedding'"):
        MotionData(write_packed(a, clip_ids(a), tmp_path / "a.arrow"), val_fraction=0, seed=0, max_frames=40)
    b = [dict(s) for s in clips[:4]]
    b[3]["embedding"] = torch.zeros(5)
    with pytest.raises(DatasetError, match="sample 3 has a 5-dim embedding but sample 0 a 8-dim"):
        MotionData(write_packed(b, clip_ids(b), tmp_path / "b.arrow"), val_fraction=0, seed=0, max_frames=40)


_EPOCH_UNDER_A_CAP = textwrap.dedent('''
    import resource, sys
    from stickgen_core.io import load_torch_file
    from stickgen_core.train.data import MotionData

    def data_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1])

    path, margin_mb = sys.argv[1], int(sys.argv[2])
    import pyarrow as pa, torch, stickgen_core.packed_reader  # imports first: the limit is for the data
    pa.array([1.0, None]).is_null()  # and Arrow's allocator has reserved its arenas
    cap = (data_kb() + margin_mb * 1024) * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))  # heap and private memory; file maps are the page cache's
    data = MotionData(path, val_fraction=0.1, seed=0, max_frames=48)
    seen = sum(b.motion.shape[0] for b in data.batches("train", 6, 0, seed=0))
    print("epoch", seen, len(data.train_idx))
    try:
        load_torch_file(path)
        print("whole split loaded")
    except MemoryError:
        print("whole split: MemoryError")
''')


def test_an_epoch_streams_a_split_larger_than_the_memory_it_may_use(tmp_path, clips):
    """96 MB of motion; opening the split and an epoch over it run with 32 MB of data memory to spare
    beyond the imports, where loading the split (the control, under the same limit) fails."""
    base = clips[0]
    reps = -(-2_000 // len(base["motion"]))
    big = []
    for i in range(125):
        s = {k: (torch.cat([v] * reps)[:2_000] if k in ("motion", "actions", "physics", "camera") else v)
             for k, v in base.items()}
        big.append(dict(s, description=f"{base['description']} #{i}", embedding=torch.randn(8)))
    path = write_packed(big, clip_ids(big), tmp_path / "big.arrow")
    motion_mb = sum(s["motion"].numel() * 4 for s in big) / 2**20
    assert motion_mb > 90
    del big
    out = subprocess.run([sys.executable, "-c", _EPOCH_UNDER_A_CAP, str(path), "32"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    epoch = next(line for line in lines if line.startswith("epoch")).split()
    assert epoch[1] == epoch[2] and int(epoch[1]) > 100
    assert "whole split: MemoryError" in lines
    assert np.isfinite(float(epoch[1]))


def test_training_on_a_packed_split_resumes_exactly_and_matches_the_loaded_run(tmp_path):
    """Stopped inside epoch 1 and resumed: the resumed run skips the done batches without reading them
    and ends with the straight run's weights; the loaded ``.pt`` of the same clips trains the same."""
    import json

    from stickgen_core.train.checkpoint import LATEST
    from tests.test_train import PLANNED, _epoch_losses, _weights, cfg_with, embedded, run

    clips = embedded()
    pt = save_dataset(clips, tmp_path / "d.pt")
    packed = write_packed(clips, clip_ids(clips), tmp_path / "d.arrow")
    cfg = cfg_with(**PLANNED)  # the action planner is fitted from the streamed split too
    run(cfg, packed, tmp_path / "straight")
    run(cfg, pt, tmp_path / "loaded")
    calls = {"n": 0}
    stop = lambda: calls.__setitem__("n", calls["n"] + 1) or calls["n"] >= 7  # noqa: E731  (inside epoch 1)
    assert run(cfg, packed, tmp_path / "split", stop=stop)["stopped"]
    run(cfg_with(**PLANNED), packed, tmp_path / "split", resume=str(tmp_path / "split" / "checkpoints" / LATEST))
    a, b = _weights(tmp_path / "straight" / "checkpoints" / LATEST), _weights(tmp_path / "split" / "checkpoints" / LATEST)
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6
    straight, loaded = _epoch_losses(tmp_path / "straight"), _epoch_losses(tmp_path / "loaded")
    assert straight.keys() == loaded.keys() == {0, 1}
    for epoch in straight:  # the physics scale is summed in float64 when streamed: equal to ~1e-6
        assert straight[epoch] == pytest.approx(loaded[epoch], rel=1e-4)
    assert json.loads((tmp_path / "split" / "status.json").read_text())["state"] == "completed"


def test_ddp_on_a_packed_split_trains_as_on_the_loaded_one(tmp_path):
    """Two torchrun processes over a packed file (each rank reading only its batches) log the losses
    two processes over the ``.pt`` of the same clips log."""
    import json
    import os

    from tests.test_train import TINY, embedded

    clips = embedded()
    pt = save_dataset(clips, tmp_path / "d.pt")
    packed = write_packed(clips, clip_ids(clips), tmp_path / "d.arrow")
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text("extends: " + os.path.abspath("configs/small.yaml") + "\nmodel: " + json.dumps(TINY["model"])
                        + "\ntraining: " + json.dumps({**TINY["training"], "epochs": 2}) + "\n")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    losses = {}
    for name, data in (("pt", pt), ("packed", packed)):
        out = tmp_path / name
        proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "stickgen_core.train",
                               "--config", str(cfg_path), "--data_path", str(data), "--run-dir", str(out)],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        losses[name] = [x["train_loss"] for x in lines if x["type"] == "epoch"]
    assert len(losses["packed"]) == 2
    assert losses["packed"] == pytest.approx(losses["pt"], rel=1e-4)
