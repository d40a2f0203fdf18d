"""The launch form's GPUs: the spin box reaches the JobSpec and the copied CLI line, the batch is said per GPU
and in total, and a spec with GPUs fills the form back."""

from __future__ import annotations

import shlex

from PySide6.QtGui import QGuiApplication

from stickgen_core.cli import build_parser
from stickgen_core.cli.jobs import spec_from_args

from .conftest import shot
from .test_train_page import fill_tiny, split_template, train_ws, type_into, window  # noqa: F401 - fixtures
from .user import click


def test_gpu_count_reaches_the_spec_and_the_cli_line_with_per_gpu_and_total_batch(qtbot, window, train_ws):
    form = window.train.form
    fill_tiny(form, epochs="3")
    assert form.spec().gpu_count == 1 and not form.batch_note.isVisible() and form.batch.suffix() == ""
    type_into(form.batch, "16")
    type_into(form.gpu_count, "4")
    spec = form.spec()
    assert spec.gpu_count == 4 and form.batch.suffix() == " per GPU"
    accum = form._cfg["training"]["grad_accum_steps"]
    assert form.batch_note.isVisible() and f"= {4 * 16 * accum} clips per optimizer step" in form.batch_note.text()
    qtbot.waitUntil(form.launch_button.isEnabled, timeout=60_000)
    click(form.copy_cli)
    line = QGuiApplication.clipboard().text()
    assert "--gpu-count 4" in line and spec_from_args(build_parser().parse_args(shlex.split(line)[1:])) == spec
    for width in (1024, 1280, 1920):
        window.resize(width, 800)
        qtbot.wait(50)
        shot(window, f"train_form_gpus_{width}")
    form.set_spec(spec.replace(gpu_count=2))
    assert form.gpu_count.value() == 2 and form.spec().gpu_count == 2 and "2 GPUs ×" in form.batch_note.text()
