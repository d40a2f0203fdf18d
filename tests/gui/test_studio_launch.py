"""First launch, laptop screens, datasets in and out, shortcuts: what a new user meets."""

import shutil

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui.conftest import shot
from tests.gui.user import click, truncated_texts, visible_counts, visible_dialogs


def open_window(qtbot, path, settings, **kw):
    from stickgen_studio.main_window import MainWindow

    win = MainWindow(path, settings=settings, **kw)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win


def test_first_launch_on_an_empty_workspace_shows_the_demo_data_without_a_click(qtbot, tmp_path, settings):
    ws = tmp_path / "empty"
    win = open_window(qtbot, ws, settings, generate_if_empty=True, demo_clips=400)
    cur = win.curate
    qtbot.waitUntil(lambda: cur.model.rowCount() > 0, timeout=30_000)  # first clips stream in
    assert "Generating demo clips" in cur.data_box.progress_text.text() or not cur.tasks.busy()
    qtbot.waitUntil(lambda: not cur.tasks.busy(), timeout=60_000)
    assert cur.model.rowCount() == 400 and not cur.banner.isVisible()
    assert visible_counts(win)[0] == 400
    assert (ws / "datasets" / "demo_synth.pt").exists()
    assert "demo_synth.pt — 400 clips" in cur.data_box.list.item(0).text()
    shot(win, "first_launch")
    win.close()
    # the second launch reads the cached annotation: the same table, no generation
    win2 = open_window(qtbot, ws, settings, generate_if_empty=True, demo_clips=400)
    qtbot.waitUntil(lambda: win2.curate.model.rowCount() == 400 and not win2.curate.tasks.busy(), timeout=30_000)
    win2.close()


def test_work_asked_for_while_busy_waits_its_turn(qtbot, tmp_path, settings, dataset_template):
    ws = tmp_path / "ws"
    win = open_window(qtbot, ws, settings, demo_clips=200)
    cur = win.curate
    cur.generate_demo()
    assert cur.tasks.busy()
    assert not cur.data_box.add_button.isEnabled()
    assert "Busy:" in cur.data_box.add_button.toolTip()
    extra = tmp_path / "extra.pt"
    shutil.copy(dataset_template, extra)
    cur.add_datasets([str(extra)])  # e.g. a file dropped while the demo is generated: queued, not lost
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == 350, timeout=60_000)
    assert cur.data_box.add_button.isEnabled()
    win.close()


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800), (1366, 768)])
def test_laptop_screens_show_every_control_whole_and_the_key_columns(window, qtbot, size):
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0], timeout=30_000)
    QApplication.processEvents()
    shot(window, f"curate_{size[0]}x{size[1]}")
    assert truncated_texts(window.curate) == []
    view = window.curate.view
    for name in ("Status", "Description", "Action", "Source", "Quality"):
        col = window.curate.model.column_of(name)
        assert not view.isColumnHidden(col)
        right = view.columnViewportPosition(col) + view.columnWidth(col)
        assert right <= view.viewport().width() + 1, f"{name} column off-screen at {size}"


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_the_train_form_fits_its_pane_on_laptop_screens(window, qtbot, size):
    """The launch form's scroll pane has no horizontal bar: a form wider than the pane had its
    right edge (Launch, the help texts, the inline error) cut off at 1024 px."""
    window.resize(*size)
    window.nav.setCurrentRow(1)
    form = window.train.form
    qtbot.waitUntil(lambda: window.width() == size[0] and form.isVisible(), timeout=30_000)
    form.data.setEditText("/no/such/folder/pretrain_data.pt")    # an inline error, shown in full
    qtbot.waitUntil(lambda: form.problem.isVisible(), timeout=30_000)
    QApplication.processEvents()
    pane = form.parentWidget()          # the scroll area's viewport
    for w in (form.launch_button, form.config, form.data, form.problem):
        right = w.mapTo(pane, w.rect().topRight()).x()
        assert right <= pane.width(), f"{w.objectName() or type(w).__name__} cut at {size}: {right} > {pane.width()}"


def test_minimum_window_fits_a_small_laptop(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 640


def test_mixed_good_and_bad_files_load_the_good_and_report_the_bad(window, qtbot, tmp_path, dataset_template):
    cur = window.curate
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a torch file at all")
    good = tmp_path / "good.pt"
    shutil.copy(dataset_template, good)
    empty = tmp_path / "empty.pt"
    import torch
    torch.save([], empty)
    cur.add_datasets([str(bad), str(empty), str(good)])
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == 300, timeout=60_000)
    dialogs = visible_dialogs()
    assert dialogs and dialogs[0].windowTitle() == "Some datasets were not loaded"
    assert "broken.pt" in dialogs[0].text() and "empty.pt" in dialogs[0].text() and "holds no clips" in dialogs[0].text()
    shot(window, "curate_error")
    texts = [cur.data_box.list.item(i).text() for i in range(cur.data_box.list.count())]
    assert "broken.pt — not loaded" in texts and "empty.pt — not loaded" in texts and "good.pt — 150 clips" in texts
    click(dialogs[0].button(dialogs[0].StandardButton.Ok))
    # the app keeps working
    cur.thresholds.controls["min_quality_pretrain"].spin.setValue(0.6)
    qtbot.waitUntil(lambda: visible_counts(window)[0] == 300, timeout=30_000)


def test_an_unreadable_thresholds_file_shows_a_titled_error(window, qtbot, tmp_path):
    window.curate.load_thresholds(str(tmp_path / "missing.yaml"))
    qtbot.waitUntil(lambda: bool(visible_dialogs()), timeout=30_000)
    d = visible_dialogs()[0]
    assert d.windowTitle() == "Could not load thresholds" and "no such config file" in d.text()


def test_outside_datasets_are_remembered_and_removal_sticks(qtbot, tmp_path, settings, workspace, dataset_template):
    win = open_window(qtbot, workspace, settings)
    cur = win.curate
    qtbot.waitUntil(lambda: cur.model.rowCount() == 150 and not cur.tasks.busy(), timeout=60_000)
    outside = tmp_path / "elsewhere" / "more.pt"
    outside.parent.mkdir()
    shutil.copy(dataset_template, outside)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    box = cur.data_box
    enter = QDragEnterEvent(box.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(box, enter)  # a real drag enters the box before it drops
    assert enter.isAccepted()
    drop = QDropEvent(box.rect().center().toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(box, drop)
    qtbot.waitUntil(lambda: cur.model.rowCount() == 300 and not cur.tasks.busy(), timeout=60_000)
    win.close()
    win = open_window(qtbot, workspace, settings)
    cur = win.curate
    qtbot.waitUntil(lambda: cur.model.rowCount() == 300 and not cur.tasks.busy(), timeout=60_000)
    cur.data_box.list.setCurrentRow(0)
    click(cur.data_box.remove_button)
    qtbot.waitUntil(lambda: cur.model.rowCount() == 150 and not cur.tasks.busy(), timeout=60_000)
    win.close()
    win = open_window(qtbot, workspace, settings)
    qtbot.waitUntil(lambda: win.curate.model.rowCount() == 150 and not win.curate.tasks.busy(), timeout=60_000)
    win.close()


def test_keyboard_shortcuts(window, qtbot):
    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentIndex() == 1
    QTest.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentIndex() == 0
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.curate.search.hasFocus(), timeout=30_000)


def test_annotation_can_be_cancelled(qtbot, tmp_path, settings, dataset_template):
    ws = tmp_path / "ws"
    (ws / "datasets").mkdir(parents=True)
    for i in range(6):  # several uncached files: cancel lands between them
        shutil.copy(dataset_template, ws / "datasets" / f"c{i}.pt")
    win = open_window(qtbot, ws, settings)
    cur = win.curate
    # the work starts once the window is up (the first event-loop pass)
    qtbot.waitUntil(lambda: cur.tasks.busy() and cur.data_box.cancel_button.isVisible(), timeout=30_000)
    click(cur.data_box.cancel_button)
    qtbot.waitUntil(lambda: not cur.tasks.busy(), timeout=60_000)
    assert cur.table is None and cur.last_error is None
    win.close()


def test_every_config_field_has_a_control_with_its_help(window):
    import dataclasses

    from stickgen_core.curation import CurationConfig
    from stickgen_core.curation.config import FIELD_HELP

    t = window.curate.thresholds
    covered = set(t.controls) | set(t.switches) | set(t.source_lists) | {"seed", "source_weights"}
    assert {f.name for f in dataclasses.fields(CurationConfig)} <= covered
    for field, c in t.controls.items():
        assert FIELD_HELP[field] in c.slider.toolTip()
    t.source_lists["mocap_sources"].setText("mocap, mocap_like, video_estimate")
    assert t.config().mocap_sources == ("mocap", "mocap_like", "video_estimate")


def test_screenshot_of_an_empty_workspace_is_written_and_the_app_exits(tmp_path):
    """`stickgen-studio WS --screenshot F` on a workspace with no data (and no demo asked for) has
    nothing to wait for: it saves the window and quits instead of waiting forever."""
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    shot_path = tmp_path / "empty.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "stickgen_studio", str(tmp_path / "ws"), "--screenshot", str(shot_path)],
                          env=env, capture_output=True, text=True, timeout=600)  # a hang guard, not a speed limit
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = QImage(str(shot_path))
    assert not image.isNull() and image.width() > 600


def test_the_window_is_up_before_torch_is_imported_and_train_is_built_on_first_click(tmp_path):
    """Importing torch takes longer than the rest of start-up: the Curate page appears without it (the
    annotation worker brings it in), and the Train and Evaluate pages are built when first shown."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QSettings, Qt
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from stickgen_studio.main_window import MainWindow
        win = MainWindow({str(tmp_path / "ws")!r}, settings=QSettings({str(tmp_path / "s.ini")!r}, QSettings.Format.IniFormat))
        win.show()
        app.processEvents()
        print("window", win.isVisible(), "torch" in sys.modules, win.pages.currentWidget() is win.curate)
        nav = win.nav
        rect = nav.visualItemRect(nav.item(1))
        QTest.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        app.processEvents()
        page = win.pages.currentWidget()
        print("train", type(page).__name__, page is win.train, page.table.isVisible())
        win.close()
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["window"] == "True False True", proc.stdout       # shown, no torch, the Curate page
    assert lines["train"] == "TrainPage True True", proc.stdout   # one click builds and shows Train

