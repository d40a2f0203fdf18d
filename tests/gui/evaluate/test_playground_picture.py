"""The playground's "Start from" picture: enabled only for checkpoints trained with images; a picked (or dropped)
PNG and its camera reach the generation, which says where it started from (issue 29)."""

import json
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.train import train
from stickgen_core.train.checkpoint import BEST, LATEST
from stickgen_studio.evaluate.picture_picker import NO_ENCODER
from tests.gui.evaluate.test_critic_compare_playground import show_tab
from tests.gui.user import click
from tests.test_inference_eval import StubEncoder
from tests.test_parallax_generation import rendered_clips


@pytest.fixture(scope="module")
def image_checkpoint(tmp_path_factory):
    """A tiny model trained with first-frame images (stub text embeddings, as the Evaluate page's encoder)."""
    folder = tmp_path_factory.mktemp("pic")
    rendered_clips(folder, StubEncoder(), views=1, frames_per_view=2)
    cfg = load_config("configs/small.yaml", overrides={
        "model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64},
        "training": {"epochs": 1, "batch_size": 4, "max_frames": 24, "warmup_steps": 1, "val_fraction": 0.25,
                     "action_plan": False, "report_to": []},
        "data": {"use_parallax_augmentation": True, "parallax_root": str(folder / "parallax"),
                 "parallax_image_size": 24}})
    train(cfg, resolve_sources(cfg, str(folder / "d.pt"), env={}), folder / "run")
    return folder / "run" / "checkpoints" / LATEST, folder / "parallax"


def test_a_picked_picture_starts_the_generation(eval_window, eval_workspace, qtbot, image_checkpoint, monkeypatch):
    ck, root = image_checkpoint
    folder = eval_workspace / "runs" / "images" / "checkpoints"
    folder.mkdir(parents=True)
    shutil.copy(ck, folder / BEST)
    png = sorted((root / "sample_000001" / "actor_0").glob("*.png"))[0]
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    pg.refresh()
    box, picker = pg.checkpoint, pg.picture
    box.setCurrentIndex(box.findData(str(eval_workspace / "runs" / "tiny" / "checkpoints" / BEST)))
    assert not picker.pick.isEnabled() and picker.toolTip() == NO_ENCODER and picker.path() is None
    box.setCurrentIndex(box.findData(str(folder / BEST)))
    assert picker.pick.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(png), "PNG images (*.png)"))
    click(picker.pick)
    assert picker.path() == str(png) and picker.name.text() == png.name and not picker.thumb.pixmap().isNull()
    got = []
    pg.generated.connect(got.append)
    pg.prompt.setText("a person walks")
    click(pg.generate_button)
    qtbot.waitUntil(lambda: bool(got) or eval_window.evaluate.last_error is not None, timeout=120_000)
    assert eval_window.evaluate.last_error is None, eval_window.evaluate.last_error
    assert got[0]["image"]["source"] == str(png) and got[0]["image"]["camera_from"].endswith("metadata.json")
    meta = json.loads((png.parent / "metadata.json").read_text())["frames"][0]["camera"]
    assert got[0]["image"]["camera"][6] == pytest.approx(meta["fov"], abs=1e-4)
    picker.camera.setText("0,1,4,0,1,0,45")
    click(pg.generate_button)
    qtbot.waitUntil(lambda: len(got) > 1 or eval_window.evaluate.last_error is not None, timeout=120_000)
    assert got[1]["image"]["camera_from"] == "--camera" and got[1]["image"]["camera"][6] == 45
    assert f"from the picture {png.name}" in eval_window.statusBar().currentMessage()
    click(picker.clear)
    assert picker.path() is None and picker.camera_text() is None


def test_a_png_dropped_on_the_row_is_taken(eval_window, qtbot, image_checkpoint, eval_workspace):
    ck, root = image_checkpoint
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    picker = pg.picture
    picker.set_checkpoint(str(ck))
    png = sorted((root / "sample_000002" / "actor_0").glob("*.png"))[0]
    for files, taken in (([png, png], False), ([root / "parallax.json"], False), ([png], True)):
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
        event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        picker.dragEnterEvent(event)  # offscreen Qt has no drag session: the handlers are called as Qt would
        assert event.isAccepted() == taken
        picker.dropEvent(event)
        assert (picker.path() == str(png)) == taken
