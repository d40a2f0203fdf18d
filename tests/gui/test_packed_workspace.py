"""A workspace whose dataset is a sharded packed set (issue 33): listed, annotated, previewed
one clip at a time from the map (the file is never read whole for a preview)."""

import shutil

import pytest

from stickgen_core.cli import main
from tests.gui.user import click


@pytest.fixture
def workspace(tmp_path, dataset_template):
    ws = tmp_path / "ws"
    (ws / "datasets").mkdir(parents=True)
    assert main(["pack", str(dataset_template), str(ws / "datasets" / "clips"), "--shard-size", "60"]) == 0
    return ws


def test_a_sharded_packed_set_opens_and_previews_one_clip_on_demand(window, qtbot, monkeypatch):
    import stickgen_studio.curate.preview as preview_mod  # the preview reads files

    cur = window.curate
    assert cur.model.rowCount() == 150
    valid = int(cur.table["valid"].sum())  # the set is listed once, with its shards' clips
    assert valid > 0 and cur.data_box.list.item(0).text().startswith(f"clips — {valid:,} clips")
    assert sorted(set(cur.table["file"].map(lambda f: f.rsplit("/", 1)[-1]))) == \
        ["shard-00000.arrow", "shard-00001.arrow", "shard-00002.arrow"]

    def whole_read(path, *a, **k):
        raise AssertionError(f"the preview read {path} whole")

    monkeypatch.setattr(preview_mod, "load_torch_file", whole_read)
    row = next(r for r in range(cur.model.rowCount())
               if cur.table.iloc[cur.model.table_row(r)]["valid"]
               and cur.table.iloc[cur.model.table_row(r)]["file"].endswith("shard-00002.arrow"))
    cur.view.scrollTo(cur.model.index(row, 1))
    click(cur.view.viewport(), cur.view.visualRect(cur.model.index(row, 1)).center())
    qtbot.waitUntil(lambda: cur.player.is_playing(), timeout=60_000)
    rec = cur.table.iloc[cur.model.table_row(row)]
    assert cur.player._T == int(rec["n_frames"]) + int(rec["padded_frames"])  # the clicked clip, whole
