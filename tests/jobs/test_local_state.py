"""Honest local state: 'failed' only once every process of the run is gone (a trainer may still be
saving after its supervisor died), a poll racing a (re)start never writes 'failed' over it, and
resume / delete wait for (or refuse) a run whose processes still live. Fake processes, no training."""

import json
import threading
import time

import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs import Run, delete_run, registry, resume_run
from stickgen_core.jobs.local import LocalBackend, live_processes, run_lock
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import now_iso, write_json


def make_run(tmp_path, tiny_spec, state="running", **refs):
    root = tmp_path / "ws" / "runs" / "r"
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "run.json", {"run_id": "r", "job": tiny_spec().to_dict(), "stage": "pretrain", "run_created": now_iso()})
    write_json(root / "status.json", {"state": state, "phase": "train", "epoch": 2})
    write_json(root / "job_state.json", {role: ref.to_dict() for role, ref in refs.items()})
    return Run(root)


def dead_ref(sleepers):
    p = sleepers()
    ref = ProcessRef.of(p.pid)
    p.kill()
    p.wait()
    return ref


def test_failed_only_once_the_trainer_is_gone_too(tmp_path, tiny_spec, sleepers):
    trainer = sleepers()
    run = make_run(tmp_path, tiny_spec, supervisor=dead_ref(sleepers), trainer=ProcessRef.of(trainer.pid))
    assert run.status()["state"] == "running"  # its supervisor died, its trainer is still saving
    assert [role for role, _ in live_processes(run)] == ["trainer"]
    trainer.kill()
    trainer.wait()
    status = run.status()
    assert status["state"] == "failed" and "without a final status" in status["error"]


def test_a_poll_during_a_restart_never_writes_failed(tmp_path, tiny_spec, sleepers):
    run = make_run(tmp_path, tiny_spec, supervisor=dead_ref(sleepers))  # the last attempt's supervisor
    with run_lock(run):  # a spawn in progress: status already 'running', the new supervisor not yet recorded
        poll = threading.Thread(target=LocalBackend().refresh, args=(run,))
        poll.start()
        time.sleep(0.3)
        assert poll.is_alive()  # the poll waits for the spawn
        run.update_job_state(supervisor=ProcessRef.of(sleepers().pid).to_dict())
    poll.join(10)
    assert run.raw_status()["state"] == "running"


def test_resume_refuses_while_a_process_of_the_run_lives(tmp_path, tiny_spec, sleepers, monkeypatch):
    monkeypatch.setattr(registry, "RELEASE_TIMEOUT_S", 0.5)
    trainer = sleepers()
    run = make_run(tmp_path, tiny_spec, state="stopped", trainer=ProcessRef.of(trainer.pid))
    (run.root / "checkpoints").mkdir()
    (run.root / "checkpoints" / "model_checkpoint_latest.pth").write_bytes(b"x")
    with pytest.raises(JobError, match=rf"its trainer pid {trainer.pid} still runs"):
        resume_run(run)
    assert run.job_state().get("attempt") is None and run.raw_status()["state"] == "stopped"  # nothing started
    with pytest.raises(JobError, match="still runs"):
        delete_run(run)
    assert run.root.is_dir()


def test_delete_waits_for_a_saving_trainer(tmp_path, tiny_spec, sleepers):
    trainer = sleepers(1.5)
    run = make_run(tmp_path, tiny_spec, state="stopped", trainer=ProcessRef.of(trainer.pid))
    t0 = time.monotonic()
    delete_run(run)
    assert time.monotonic() - t0 > 1.0 and not run.root.exists()
    assert json.dumps(run.root.parent.exists())  # the runs folder itself stays


def test_resume_right_after_stop_never_reads_failed(tmp_path, tiny_spec):
    """The studio's symptom: Stop (not waiting), then Resume at once, with another reader polling all the
    while. Resume waits for the last attempt's processes; a stop during the new trainer's start is a stop."""
    from stickgen_core.jobs import launch

    from .helpers import wait_for

    run = launch(tiny_spec(run_name="again"), tmp_path / "ws")
    wait_for(lambda: run.checkpoint("latest"), "a checkpoint")
    seen, done = [], threading.Event()

    def poll():  # a second reader, as the studio's poller is
        while not done.is_set():
            seen.append(Run(run.root).status().get("state"))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for attempt in (2, 3, 4):
            run.stop(wait=False)
            wait_for(lambda: run.raw_status().get("state") == "stopped", "the trainer's own 'stopped'")
            resume_run(run)  # its last supervisor may still be finishing: resume waits for it
            assert run.job_state()["attempt"] == attempt
            wait_for(lambda: run.job_state().get("trainer"), "the new attempt's trainer")
        assert run.stop()["state"] == "stopped"
    finally:
        done.set()
        poller.join()
    assert "failed" not in seen and "running" in seen
