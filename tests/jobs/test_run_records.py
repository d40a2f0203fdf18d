"""One writer per file: the trainer writes status.json, the jobs layer job_state.json, and a reader
gets one status (``merge_status``): the trainer's while it is the newer, the jobs layer's verdict once
the trainer is gone or a new attempt begins. Fake processes and clock (tests/jobs/fakes.py)."""

import os

import pytest

from stickgen_core.jobs import RunState, runpod_api
from stickgen_core.jobs.record import merge_status
from stickgen_core.jobs.run import PROCESSES_DIED, write_json

from .test_state_transitions import clock, make_run, procs  # noqa: F401 - fixtures


def trainer_writes(run, at, **status):
    """What the trainer's RunFolder.status does, at Unix time ``at``."""
    write_json(run.root / "status.json", {"updated": "2026-01-01T00:00:00+00:00", **status})
    os.utime(run.root / "status.json", (at, at))


def test_the_jobs_layer_never_writes_status_json(tmp_path, tiny_spec, procs):  # noqa: F811
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)  # queued, then running (spawned)
    procs.exit(run.job_state()["supervisor"]["pid"])
    assert run.status()["state"] == RunState.FAILED  # settled dead
    queued = make_run(tmp_path, tiny_spec, "q")
    queued.backend.start(queued)
    queued.stop()
    for r in (run, queued):
        assert not (r.root / "status.json").exists()
        assert r.job_state()["status"]["state"] in (RunState.FAILED, RunState.STOPPED)


def test_the_trainer_wins_while_it_writes_then_the_verdict(tmp_path, tiny_spec, procs, clock):  # noqa: F811
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    trainer = procs.start(["python", "-m", "stickgen_core.train", "--run-dir", str(run.root)])
    run.update_job_state(trainer={"pid": trainer.pid, "create_time": trainer.create_time})
    clock.advance(5)
    trainer_writes(run, clock.now, state="running", epoch=3, global_step=40)
    status = run.status()
    assert status["state"] == RunState.RUNNING and status["epoch"] == 3
    assert status.get("phase") is None  # the jobs layer's 'starting' is over once the trainer writes
    for pid in list(procs.table):
        procs.exit(pid)  # kill -9: the trainer never wrote a final status
    clock.advance(1)
    status = run.status()  # the supervisor's verdict is newer: failed, over the trainer's epoch and step
    assert status["state"] == RunState.FAILED and status["error"] == PROCESSES_DIED and status["epoch"] == 3
    assert run.trainer_status()["state"] == "running"  # the trainer's file is the trainer's


def test_a_new_attempt_is_not_the_last_attempts_trainer(tmp_path, tiny_spec, procs):  # noqa: F811
    run = make_run(tmp_path, tiny_spec, "r")
    trainer_writes(run, 1_000.0, state="stopped", epoch=7, global_step=99)
    run.set_status(RunState.QUEUED)  # a resume, later than the trainer's last word
    assert run.raw_status()["state"] == RunState.QUEUED and run.raw_status()["epoch"] == 7


@pytest.mark.parametrize("jobs_at, jobs_state, expect", [
    (99.0, "running", "completed"),   # written before the trainer's last word
    (100.0, "running", "completed"),  # a tie: only a terminal verdict of the jobs layer wins it
    (100.0, "failed", "failed"),
    (101.0, "running", "running"),    # later: a new attempt
])
def test_merge_at_the_boundary(jobs_at, jobs_state, expect):
    trainer = {"state": "completed", "epoch": 4}
    merged = merge_status(trainer, {"state": jobs_state, "phase": "train", "at": jobs_at}, 100.0)
    assert merged["state"] == expect and "at" not in merged
    assert merge_status({}, {"state": "queued", "at": 1.0}, None) == {"state": "queued"}
    assert merge_status(trainer, {}, 100.0) == trainer


def test_a_damaged_jobs_view_is_a_damaged_row(tmp_path, tiny_spec):
    run = make_run(tmp_path, tiny_spec, "r")
    run.update_job_state(status=["running"])
    assert run.summary()["state"] == RunState.DAMAGED and "job_state.json: status: expected a mapping" in \
        run.summary()["error"]
    run.update_job_state(status={"state": "running", "epoch": "three"})
    assert "job_state.json: status.epoch: expected a whole number" in run.summary()["error"]


def test_a_pod_that_failed_before_training_says_so_on_the_volume(monkeypatch):
    """The run folder on the volume: the trainer's status.json of a finished earlier attempt, and this
    attempt's verdict in job_state.json (embedding failed, the trainer never started)."""
    files = {"/v/runs/r/status.json": {"state": "completed", "updated": "2026-01-01T00:00:00+00:00"},
             "/v/runs/r/job_state.json": {"status": {"state": "failed", "error": "embedding failed",
                                                     "at": 1_767_225_700.5}}}
    monkeypatch.setattr(runpod_api, "_json_on_volume", lambda settings, path: files.get(path, {}))
    assert runpod_api.run_status_on_volume({}, "/v/runs/r")["error"] == "embedding failed"
    files["/v/runs/r/job_state.json"]["status"]["at"] = 1_767_225_599.9  # written before the trainer's
    assert runpod_api.run_status_on_volume({}, "/v/runs/r")["state"] == "completed"
