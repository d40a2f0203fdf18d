"""Data from elsewhere in the Curate panel: BVH files and folders and reference .pt files, dropped or added."""

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from stickgen_studio.curate import importing
from tests.gui.conftest import shot
from tests.gui.user import click, visible_dialogs

DATA = Path(__file__).parents[3] / "shared" / "data"
needs_shared = pytest.mark.shared_data("bvh/walk01.bvh", "bvh/mocapbank_sample.bvh", "reference/ref_sample_60_v1.pt")


def drop(box, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(box.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(box, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(box, QDropEvent(box.rect().center().toPointF(), Qt.DropAction.CopyAction, mime,
                                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def list_texts(cur):
    box = cur.data_box.list
    return [box.item(i).text() for i in range(box.count())]


@needs_shared
def test_dropped_bvh_and_reference_files_load_and_a_broken_one_is_listed(window, qtbot, tmp_path, workspace):
    cur = window.curate
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\nMOTION\n")
    drop(cur.data_box, [DATA / "bvh" / "walk01.bvh", DATA / "reference" / "ref_sample_60_v1.pt", broken])
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == 150 + 1 + 60, timeout=120_000)
    table = cur.table
    walk = table[table["source"] == "mocap"]
    assert len(walk) == 1 and "walk01" in walk["description"].iloc[0]
    assert (table["file"].str.contains("ref_sample_60_v1")).sum() == 60  # v1 scenes, converted to v3
    texts = list_texts(cur)
    assert "broken.bvh — not loaded" in texts
    assert "walk01 (converted) — 1 clips" in texts and "ref_sample_60_v1 (converted) — 60 clips" in texts
    dialogs = visible_dialogs()
    assert dialogs and "broken.bvh" in dialogs[0].text()
    click(dialogs[0].button(dialogs[0].StandardButton.Ok))
    cached = sorted((workspace / "datasets" / importing.CONVERTED_DIR).glob("*.pt"))
    assert [p.name.split(".")[0] for p in cached] == ["ref_sample_60_v1", "walk01"]
    shot(window, "curate_bvh")


@needs_shared
def test_add_folder_converts_each_bvh_once(window, qtbot, tmp_path, monkeypatch, workspace):
    cur = window.curate
    folder = tmp_path / "captures"
    folder.mkdir()
    for name in ("walk01.bvh", "mocapbank_sample.bvh"):
        shutil.copy(DATA / "bvh" / name, folder / name)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    click(cur.data_box.folder_button)
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == 152, timeout=120_000)
    cache = workspace / "datasets" / importing.CONVERTED_DIR
    first = {p: p.stat().st_mtime_ns for p in cache.glob("*.pt")}
    assert len(first) == 2
    click(cur.data_box.folder_button)  # the same folder again: cached, nothing converted twice
    qtbot.waitUntil(lambda: not cur.tasks.busy(), timeout=120_000)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.pt")} == first
    assert cur.model.rowCount() == 152


def test_file_dialog_offers_motion_capture_filters(window, monkeypatch):
    seen = {}

    def fake(parent, title, start, filters):
        seen["filters"] = filters
        return [], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", fake)
    click(window.curate.data_box.add_button)
    assert "*.bvh" in seen["filters"] and "*.npy" in seen["filters"] and "*.pt" in seen["filters"]


def test_a_dropped_folder_with_bad_files_loads_the_good_ones_and_lists_the_rest(window, qtbot, tmp_path, workspace):
    """Generated captures of two rigs beside hostile ones (no shared data needed)."""
    from tests.bvh_fixtures import write_bvh
    from tests.test_convert_hostile import BAD_BVH

    cur = window.curate
    qtbot.waitUntil(lambda: not cur.tasks.busy(), timeout=120_000)
    before = cur.model.rowCount()
    folder = tmp_path / "captures"
    folder.mkdir()
    write_bvh(folder / "a_walk.bvh", "unreal", frames=60)
    write_bvh(folder / "b_walk.bvh", "suffix", frames=60)
    bad = ["JOINT in place of ROOT", "Frames: 0", "four rotation channels"]
    for k, name in enumerate(bad):
        (folder / f"z_bad{k}.bvh").write_text(BAD_BVH[name][0])
    drop(cur.data_box, [folder])
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == before + 2, timeout=120_000)
    texts = list_texts(cur)
    assert "a_walk (converted) — 1 clips" in texts and "b_walk (converted) — 1 clips" in texts
    assert all(f"z_bad{k}.bvh — not loaded" in texts for k in range(len(bad)))
    dialogs = visible_dialogs()
    assert dialogs and all(f"z_bad{k}.bvh" in dialogs[0].text() for k in range(len(bad)))
    click(dialogs[0].button(dialogs[0].StandardButton.Ok))
