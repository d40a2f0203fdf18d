"""A recycled pid is never a live run, and stopping a queued run never starts it.

Fast: the "run processes" are sleeping Python children (the sleepers fixture), never a training.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from stickgen_core.jobs import JobSpec
from stickgen_core.jobs import local as local_mod
from stickgen_core.jobs.local import LocalBackend, promote_queued
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import Run, now_iso, write_json

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _run(ws, run_id: str, state: str, **job_state) -> Run:
    root = ws / "runs" / run_id
    root.mkdir(parents=True)
    spec = JobSpec(stage="pretrain", config="small", data=str(ws / "data.pt"))
    write_json(root / "run.json", {"run_id": run_id, "job": spec.to_dict(), "stage": "pretrain",
                                   "run_created": now_iso()})
    run = Run(root)
    run.set_status(state, phase="train" if state == "running" else None)
    run.update_job_state(attempt=1, **job_state)
    return run


# ------------------------------------------------------------------ the recycled pid
def test_a_live_pid_with_another_start_time_is_not_alive(sleepers):
    child = sleepers()
    ref = ProcessRef.of(child.pid)
    assert ref.alive()
    for shift in (1.0, -1.0, 0.5, 3600.0):  # the same pid, started at another time: another process
        assert not ProcessRef(child.pid, ref.create_time + shift).alive(), shift
    assert psutil.pid_exists(child.pid)


def test_an_exited_child_not_yet_reaped_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
    ref = ProcessRef.of(child.pid)
    deadline = time.monotonic() + 30
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        assert not ref.alive()
    finally:
        child.wait(10)


def test_a_running_run_whose_supervisor_pid_was_recycled_is_failed(tmp_path, sleepers):
    """job_state.json names a pid that a newer, unrelated process now holds: the run is not live."""
    stranger = sleepers()
    real = ProcessRef.of(stranger.pid)
    run = _run(tmp_path, "r1", "running", supervisor={"pid": stranger.pid, "create_time": real.create_time - 120.0})
    LocalBackend().refresh(run)
    assert run.raw_status()["state"] == "failed", run.raw_status()
    assert stranger.poll() is None     # and the stranger was left alone


def test_a_running_run_whose_supervisor_lives_stays_running(tmp_path, sleepers):
    sup = sleepers()
    run = _run(tmp_path, "r1", "running", supervisor=ProcessRef.of(sup.pid).to_dict())
    LocalBackend().refresh(run)
    assert run.raw_status()["state"] == "running"


# ------------------------------------------------------------------ stopping a queued run
@pytest.fixture
def spawned(monkeypatch, sleepers):
    """LocalBackend's process spawner replaced by a sleeping child; the argv of every start."""
    calls: list[list[str]] = []

    def fake_spawn(argv, log_path, *, detach, env=None, nice=0):
        calls.append(list(argv))
        return sleepers()
    monkeypatch.setattr(local_mod, "spawn", fake_spawn)
    return calls


@pytest.mark.parametrize("via", ["backend", "run"])
def test_stopping_a_queued_run_never_starts_it(tmp_path, spawned, via):
    """The slot is free (the run ahead just finished) but nobody promoted the queue yet: a stop
    marks the run stopped; it does not fall through to 'promote the queue', which would start it.
    ``run``: as `stickgen jobs stop` and the studio's Stop button call it."""
    _run(tmp_path, "a", "completed")
    b = _run(tmp_path, "b", "queued", queued_at=time.time())
    if via == "run":
        assert b.stop(wait=False)["state"] == "stopped"
    else:
        LocalBackend().stop(b, wait=False, timeout=0.0)
    assert b.raw_status()["state"] == "stopped"
    assert spawned == []
    assert promote_queued(tmp_path) == [] and spawned == []   # and it stays out of the queue


def test_a_queued_run_starts_when_its_turn_comes(tmp_path, spawned):
    """The fake spawner does start a queued run: the test above would see a start."""
    _run(tmp_path, "a", "completed")
    b = _run(tmp_path, "b", "queued", queued_at=time.time())
    assert [r.run_id for r in promote_queued(tmp_path)] == ["b"]
    assert len(spawned) == 1 and str(b.root) in spawned[0]
    assert b.raw_status()["state"] == "running"


# ------------------------------------------------------------------ a process is the run's own: containment
@pytest.fixture
def run_tree(tmp_path):
    runs = tmp_path / "runs"
    (runs / "r1" / "checkpoints").mkdir(parents=True)
    (runs / "r10").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", runs / "r1" / "link_out")
    os.symlink(runs / "r1", tmp_path / "alias")
    return runs


def _owned(run_root, *args: str, cwd=None, env: dict | None = None) -> bool:
    """Whether a sleeping child whose command line reads like a stickgen step on ``args`` is the run's own."""
    child = subprocess.Popen([*SLEEPER, "stickgen_core.jobs.pipeline", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                             env={"PATH": os.environ.get("PATH", ""), **(env or {})})
    try:
        deadline = time.monotonic() + 10      # until exec has replaced the forked copy's command line
        while "stickgen_core.jobs.pipeline" not in psutil.Process(child.pid).cmdline() and time.monotonic() < deadline:
            time.sleep(0.02)
        return ProcessRef.of(child.pid).owned_by(run_root)
    finally:
        child.kill()
        child.wait(10)


@pytest.mark.parametrize("arg,cwd,owned", [
    ("{runs}/r1", None, True), ("{runs}/r1/checkpoints/x.pth", None, True), ("r1", "{runs}", True),
    ("{alias}", None, True),                           # the run folder through a symlink to it
    ("{runs}/r10", None, False), ("r10", "{runs}", False),   # a sibling whose name starts like the run's
    ("{runs}/r1/link_out/x", None, False),             # a symlink out of the run
    ("{runs}/r1/../r10", None, False),
])
def test_a_process_is_the_runs_own_only_when_its_command_line_names_a_path_inside(run_tree, arg, cwd, owned):
    fill = {"runs": str(run_tree), "alias": str(run_tree.parent / "alias")}
    assert _owned(run_tree / "r1", arg.format(**fill), cwd=cwd.format(**fill) if cwd else None) is owned


@pytest.mark.parametrize("run_dir,owned", [("{runs}/r1", True), ("{runs}/r10", False), ("{runs}/r1/link_out", False)])
def test_a_pods_entrypoint_is_the_runs_own_only_when_its_run_dir_is_the_run(run_tree, run_dir, owned):
    assert _owned(run_tree / "r1", env={"STICKGEN_RUN_DIR": run_dir.format(runs=run_tree)}) is owned
