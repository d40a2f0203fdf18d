"""The Train form's Images tab: parallax keys, the root's summary, and its coverage problem inline (issue 29)."""

from __future__ import annotations

import pytest
from PySide6.QtTest import QTest

from stickgen_core.io import load_dataset
from stickgen_core.jobs import JobSpec
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_studio.train.launch_form import LaunchForm

from .conftest import shot
from .train_workspace import make_train_workspace


@pytest.fixture
def form(qtbot, tmp_path):
    ws = make_train_workspace(tmp_path / "ws")
    f = LaunchForm()
    qtbot.addWidget(f)
    f.resize(1024, 760)
    f.show()
    f.set_workspace(ws)
    f.tabs.setCurrentWidget(f.parallax)
    yield f, ws
    f.shutdown()


def render(ws, root, indices):
    samples = load_dataset(ws / "curated" / "pretrain_data.pt").samples
    render_dataset(samples, root, RenderSettings(views=2, frames_per_view=2, size=16), indices=indices)


def test_the_summary_counts_covered_clips_and_a_gap_blocks_launch(form, tmp_path):
    f, ws = form
    root = tmp_path / "renders"
    render(ws, root, range(20))  # 20 of the split's 24 clips
    box = f.parallax
    box.group.setChecked(True)
    QTest.keyClicks(box.root, str(root))
    f.check()
    assert box.summary.text().startswith("20 of 24 clips covered · 2 views × 2 frames · 16 px · camera seed 0")
    assert "4 clips without renders (first: sample 20)" in box.summary.text()
    assert "first missing: sample 20" in f.problem.text()
    assert "data.parallax_root" in f.problem.text() and not f.launch_button.isEnabled()
    shot(f, "train_parallax_gap")
    render(ws, root, range(20, 24))
    f.check()
    assert box.summary.text() == "24 of 24 clips covered · 2 views × 2 frames · 16 px · camera seed 0"
    assert f.launch_button.isEnabled() and f.problem.isHidden()
    over = f.spec().overrides
    assert over["data"] == {"use_parallax_augmentation": True, "parallax_root": str(root)}
    assert "data.parallax_root" in f.cli.text() or "parallax_root" in str(f.spec().to_dict())
    shot(f, "train_parallax_ok")


def test_each_key_becomes_an_override_only_when_it_differs(form, tmp_path):
    f, ws = form
    box = f.parallax
    assert f.spec().overrides == {}  # the config's values: nothing to override
    box.group.setChecked(True)
    box.size.setValue(64)
    box.mode.setCurrentText("sequence")
    assert box.length.isEnabled() and box.stride.isEnabled()
    box.length.setValue(3)
    box.stride.setValue(2)
    box.fusion.setCurrentText("prefix")
    over = f.spec().overrides
    assert over["data"] == {"use_parallax_augmentation": True, "parallax_image_size": 64,
                            "parallax_conditioning_mode": "sequence", "parallax_sequence_length": 3,
                            "parallax_sequence_stride": 2}
    assert over["model"] == {"image_fusion": "prefix"}
    box.group.setChecked(False)
    box.mode.setCurrentText("first_frame")
    assert not box.length.isEnabled()
    f.check()
    assert box.summary.text().startswith("Off")


def test_a_missing_root_is_one_line_and_a_spec_round_trips(form, tmp_path):
    f, ws = form
    box = f.parallax
    box.group.setChecked(True)
    f.check()
    assert "data.parallax_root: choose the folder" in f.problem.text() and not f.launch_button.isEnabled()
    QTest.keyClicks(box.root, str(tmp_path / "nowhere"))
    f.check()
    assert f"data.parallax_root: {tmp_path / 'nowhere'} is not a folder" in f.problem.text()
    root = tmp_path / "r"
    render(ws, root, range(24))
    spec = JobSpec(stage="pretrain", config="small", data=str(ws / "curated" / "pretrain_data.pt"),
                   overrides={"data": {"use_parallax_augmentation": True, "parallax_root": str(root),
                                       "use_parallax_sequences": True}, "model": {"image_fusion": "prefix"}})
    f.set_spec(spec)
    assert box.group.isChecked() and box.root.text() == str(root) and box.fusion.currentText() == "prefix"
    assert f.spec().overrides == spec.overrides  # the key the box does not show is carried too


def test_a_pod_root_is_not_checked_here(form, tmp_path):
    f, _ = form
    box = f.parallax
    box.group.setChecked(True)
    QTest.keyClicks(box.root, "/workspace/parallax")
    assert box.check("x.pt", remote=True) is None and "pod's volume" in box.summary.text()
    assert box.check("x.pt", remote=False) is not None
