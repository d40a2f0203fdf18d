"""Train page: "Download checkpoint" brings a RunPod run's checkpoint home from its network volume
(moto's S3 server on 127.0.0.1), off the GUI thread, and Evaluate and the launch form then see it."""

from __future__ import annotations

import json

import pytest

from stickgen_core.jobs import JobSpec
from stickgen_core.jobs.run import Run, write_json
from stickgen_studio.main_window import MainWindow

from ..jobs.conftest import s3_server, s3_volume  # noqa: F401 - fixtures
from .conftest import shot

BEST = "model_checkpoint_best.pth"


def remote_run(ws, s3_volume, run_id="pretrain-remote"):  # noqa: F811
    """A finished RunPod run whose pod is gone; its checkpoint is on the volume only."""
    root = ws / "runs" / run_id
    root.mkdir(parents=True)
    spec = JobSpec(stage="pretrain", config="small", data="/runpod-volume/data/pretrain_data.pt", backend="runpod",
                   backend_settings=dict(s3_volume.settings))
    write_json(root / "run.json", {"run_id": run_id, "job": spec.to_dict(), "stage": "pretrain",
                                   "run_created": "2026-12-07T10:00:00+00:00"})
    run = Run(root)
    run.update_job_state(attempt=1, pod_id="pod1", terminated=True, pod_ended=True,
                         remote_run_dir=f"/runpod-volume/runs/{run_id}")
    run.set_status("completed", epoch=3, global_step=40)
    data = bytes(range(256)) * 8192  # 2 MiB
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=f"runs/{run_id}/checkpoints/{BEST}", Body=data)
    return run, data


@pytest.fixture
def window(qtbot, tmp_path, settings, s3_volume):  # noqa: F811
    ws = tmp_path / "ws"
    run, data = remote_run(ws, s3_volume)
    win = MainWindow(ws, settings=settings, train_poll_ms=250)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.pages.setCurrentWidget(win.train)
    qtbot.waitUntil(lambda: win.train.polled_once, timeout=60_000)
    yield win, run, data
    win.close()


def test_download_checkpoint_from_the_volume(qtbot, window):
    win, run, data = window
    page = win.train
    page.select_runs([run.run_id])
    button = page.download
    assert button.isEnabled() and "network volume" in button.toolTip()
    statuses = []
    page.status.connect(statuses.append)
    next(a for a in button.menu.actions() if a.text() == "Best checkpoint").trigger()
    assert button.text().startswith("Cancel download")  # the GUI thread is free: the work is a task
    qtbot.waitUntil(lambda: button.task is None, timeout=60_000)
    local = run.root / "checkpoints" / BEST
    assert local.read_bytes() == data
    assert any("from the volume, SHA-256 checked" in s for s in statuses), statuses
    assert button.text() == "Download checkpoint"
    # the fetched file is a checkpoint like a local run's: the launch form offers it, Evaluate lists it
    qtbot.waitUntil(lambda: page.states[run.run_id].has_best, timeout=60_000)
    assert local in win.evaluate.checkpoints()
    shot(win, "train_download_done")


def test_a_local_run_needs_no_download(qtbot, window, tmp_path):
    win, run, _ = window
    job = json.loads((run.root / "run.json").read_text())
    local_root = run.root.parent / "pretrain-local"
    local_root.mkdir()
    job["run_id"], job["job"]["backend"], job["job"]["backend_settings"] = "pretrain-local", "local", {}
    write_json(local_root / "run.json", job)
    Run(local_root).set_status("completed")
    win.train.poller.poll_now()
    qtbot.waitUntil(lambda: "pretrain-local" in win.train.states, timeout=60_000)
    win.train.select_runs(["pretrain-local"])
    assert not win.train.download.isEnabled() and "in its folder already" in win.train.download.toolTip()
