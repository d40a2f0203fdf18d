import os

import pytest
import torch

from stickgen_core.errors import DatasetError, SampleValidationError
from stickgen_core.io import atomic_write_text, clip_id, load_dataset, save_dataset


def test_round_trip_keeps_every_field(tmp_path, small_dataset):
    path = save_dataset(small_dataset, tmp_path / "d.pt")
    ds = load_dataset(path)
    assert len(ds) == len(small_dataset) and not ds.skipped
    for a, b in zip(small_dataset, ds):
        assert torch.equal(a["motion"], b["motion"])
        assert torch.equal(a["actions"], b["actions"])
        assert torch.equal(a["physics"], b["physics"])
        assert a["description"] == b["description"]
        assert a["meta"] == b["meta"]
        assert b["source_file"] == str(path)


def test_dict_with_sequences_and_folder(tmp_path, small_dataset):
    folder = tmp_path / "many"
    folder.mkdir()
    torch.save({"sequences": small_dataset[:30]}, folder / "a.pt")
    torch.save(small_dataset[30:], folder / "b.pth")
    (folder / "notes.txt").write_text("ignored")
    ds = load_dataset(folder)
    assert len(ds) == len(small_dataset)
    assert [os.path.basename(f) for f in ds.files] == ["a.pt", "b.pth"]
    assert ds[30]["source_index"] == 0 and ds[30]["source_file"].endswith("b.pth")


def test_clip_ids_are_content_hashes_stable_under_reordering(tmp_path, small_dataset):
    torch.save(small_dataset, tmp_path / "fwd.pt")
    torch.save(small_dataset[::-1], tmp_path / "rev.pt")
    fwd = [s["clip_id"] for s in load_dataset(tmp_path / "fwd.pt")]
    rev = [s["clip_id"] for s in load_dataset(tmp_path / "rev.pt")]
    assert fwd == rev[::-1]
    assert len(set(fwd)) == len(fwd)
    changed = dict(small_dataset[0], description=small_dataset[0]["description"] + "!")
    assert clip_id(changed) != clip_id(small_dataset[0])
    moved = dict(small_dataset[0], motion=small_dataset[0]["motion"] + 1e-3)
    assert clip_id(moved) != clip_id(small_dataset[0])


def test_loading_and_saving_never_mutate_inputs(tmp_path, small_dataset):
    keys_before = [set(s) for s in small_dataset]
    save_dataset(small_dataset, tmp_path / "d.pt")
    ds = load_dataset(tmp_path / "d.pt")
    save_dataset(ds, tmp_path / "again.pt")
    assert [set(s) for s in small_dataset] == keys_before
    assert "clip_id" in ds[0]
    raw = torch.load(tmp_path / "again.pt", weights_only=True)
    assert "clip_id" not in raw[0] and "source_file" not in raw[0]


def test_skip_invalid_returns_a_report(tmp_path, small_dataset):
    bad = dict(small_dataset[3])
    bad["motion"] = bad["motion"][:, :40]
    data = list(small_dataset[:5])
    data[3] = bad
    torch.save(data, tmp_path / "mixed.pt")
    with pytest.raises(SampleValidationError) as err:
        load_dataset(tmp_path / "mixed.pt")
    assert "mixed.pt sample 3" in str(err.value) and "[T, 48]" in str(err.value)
    ds = load_dataset(tmp_path / "mixed.pt", skip_invalid=True)
    assert len(ds) == 4
    (item,) = ds.skipped
    assert item.index == 3 and item.file.endswith("mixed.pt")


def test_interrupted_save_leaves_old_file_whole(tmp_path, small_dataset, monkeypatch):
    path = tmp_path / "d.pt"
    save_dataset(small_dataset[:5], path)
    before = path.read_bytes()

    def exploding_save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", exploding_save)
    with pytest.raises(KeyboardInterrupt):
        save_dataset(small_dataset, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.pt"]  # no temp file left behind


def test_save_refuses_invalid_samples_before_writing(tmp_path, small_dataset):
    path = tmp_path / "d.pt"
    bad = dict(small_dataset[0], actions=small_dataset[0]["actions"][:-1])
    with pytest.raises(SampleValidationError, match="sample 1"):
        save_dataset([small_dataset[0], bad], path)
    assert not path.exists()


def test_atomic_text_write(tmp_path):
    p = tmp_path / "x" / "y.json"
    atomic_write_text(p, "{}")
    assert p.read_text() == "{}"


def test_folder_errors_name_the_bad_file(tmp_path, small_dataset):
    torch.save(small_dataset[:2], tmp_path / "a.pt")
    (tmp_path / "b.pt").write_bytes(b"garbage" * 10)
    with pytest.raises(DatasetError, match="b.pt"):
        load_dataset(tmp_path)


def test_atomic_writes_keep_or_give_ordinary_permissions(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "x")
    assert p.stat().st_mode & 0o777 == 0o644
    p.chmod(0o640)
    atomic_write_text(p, "y")
    assert p.stat().st_mode & 0o777 == 0o640
