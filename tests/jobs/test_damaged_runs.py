"""Hostile and damaged run folders: one damaged row each, never a failed listing; signals only to the
run's own processes; a killed run settles as failed; log tails stay linear on any log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs import JobSpec, Run, list_runs
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import PROCESSES_DIED, tail_lines, write_json

JOB = JobSpec(stage="pretrain", config="small", data="x.pt").to_dict()


def make_run(ws: Path, name: str, run: object = None, status: object = None, job_state: object = None,
             raw: str | None = None) -> Path:
    root = ws / "runs" / name
    root.mkdir(parents=True)
    text = raw if raw is not None else json.dumps({"job": JOB, "run_created": "2026-01-01T00:00:00"}
                                                  if run is None else run)
    (root / "run.json").write_text(text)
    for file, data in (("status.json", status), ("job_state.json", job_state)):
        if data is not None:
            (root / file).write_text(data if isinstance(data, str) else json.dumps(data))
    return root


def dead_ref() -> dict:
    """pid and start time of a process that has ended."""
    proc = subprocess.Popen(["true"])
    ref = ProcessRef.of(proc.pid).to_dict()
    proc.wait()
    return ref


# name: (make_run keyword arguments, text the damaged row's error must hold)
DAMAGED = {
    "job is a list": (dict(run={"job": [1, 2]}), "run.json: job: expected a mapping, got list"),
    "run_created is a number": (dict(run={"job": JOB, "run_created": 5}), "run.json: run_created: expected text, got 5"),
    "100,000-deep run.json": (dict(raw="[" * 100_000 + "]" * 100_000), "run.json: JSON nested 100,000 levels deep"),
    "run.json not JSON": (dict(raw="{oops"), "run.json: not a JSON file"),
    "run.json a list": (dict(raw="[1]"), "run.json: expected a JSON object, got list"),
    "unknown job field": (dict(run={"job": {**JOB, "gpu": 1}}), "run.json: job: unknown field(s) ['gpu']"),
    "epoch is text": (dict(status={"state": "running", "epoch": "x"}), "status.json: epoch: expected a whole number"),
    "state is a number": (dict(status={"state": 5}), "status.json: state: expected text, got 5"),
    "global_step is true": (dict(status={"state": "running", "global_step": True}), "status.json: global_step"),
    "status.json 100,000 deep": (dict(status="{\"a\":" * 100_000 + "1" + "}" * 100_000), "status.json: JSON nested"),
    "pid is text": (dict(status={"state": "running"}, job_state={"supervisor": {"pid": "abc", "create_time": 1}}),
                    "job_state.json: supervisor: expected {'pid'"),
    "trainer without create_time": (dict(job_state={"trainer": {"pid": 5}}), "job_state.json: trainer"),
    "attempt is text": (dict(job_state={"attempt": "two"}), "job_state.json: attempt: expected a whole number"),
    "max_parallel is text": (dict(run={"job": {**JOB, "backend_settings": {"max_parallel": "abc"}}},
                                  status={"state": "queued"}), "run.json: max_parallel"),
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_folder_is_one_damaged_row_beside_the_good_ones(tmp_path, name):
    ws = tmp_path / "ws"
    make_run(ws, "good", status={"state": "completed", "epoch": 1, "global_step": 8})
    kwargs, needle = DAMAGED[name]
    make_run(ws, "bad", **kwargs)
    rows = {r.run_id: r.summary() for r in list_runs(ws)}
    assert rows["good"]["state"] == "completed" and rows["good"]["epoch"] == 1
    assert rows["bad"]["state"] == "damaged", rows["bad"]
    assert needle in rows["bad"]["error"] and "\n" not in rows["bad"]["error"], rows["bad"]["error"]
    with pytest.raises(JobError, match="run bad is damaged, nothing was stopped"):
        Run(ws / "runs" / "bad").stop(wait=False)


def test_a_well_formed_folder_is_not_damaged(tmp_path):
    root = make_run(tmp_path / "ws", "ok", status={"state": "completed", "epoch": 0, "global_step": 3, "error": None,
                                                   "process": None},
                    job_state={"attempt": 2, "supervisor": dead_ref(), "trainer": None, "started_at": 1.5})
    assert Run(root).damage() is None


def test_jobs_list_and_stop_through_the_cli(tmp_path):
    ws = tmp_path / "ws"
    make_run(ws, "good", status={"state": "completed"})
    make_run(ws, "bad", run={"job": [1, 2]})
    cli = [sys.executable, "-m", "stickgen_core.cli", "jobs"]
    out = subprocess.run(cli + ["list", "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    bad = next(line for line in out.stdout.splitlines() if line.startswith("bad "))
    assert "damaged" in bad and "run.json: job: expected a mapping, got list" in bad
    out = subprocess.run(cli + ["stop", "bad", "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and out.stderr.startswith("error: run bad is damaged")


# --------------------------------------------------------------------------- signals only to the run's own
def test_stop_refuses_a_live_process_the_run_does_not_own(tmp_path):
    stranger = subprocess.Popen(["sleep", "600"])  # the user's own, unrelated process
    try:
        root = make_run(tmp_path / "ws", "tampered", status={"state": "running", "phase": "train"},
                        job_state={"attempt": 1, "supervisor": ProcessRef.of(stranger.pid).to_dict()})
        with pytest.raises(JobError, match=rf"process {stranger.pid} \(sleep\) is not this run's"):
            Run(root).stop(wait=False)
        time.sleep(0.3)
        assert stranger.poll() is None  # alive: nothing was sent
    finally:
        stranger.kill()
        stranger.wait()


def test_the_runs_own_supervisor_is_signalled(tmp_path):
    root = make_run(tmp_path / "ws", "own", status={"state": "running", "phase": "train"})
    # its command line runs stickgen's pipeline on this folder, as LocalBackend.spawn starts it
    sup = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "stickgen_core.jobs.pipeline",
                            str(root)])
    try:
        ref = ProcessRef.of(sup.pid)
        write_json(root / "job_state.json", {"attempt": 1, "supervisor": ref.to_dict()})
        assert ref.owned_by(root) and not ref.owned_by(tmp_path / "ws" / "runs" / "other")
        Run(root).stop(wait=False)
        assert sup.wait(timeout=30) == -signal.SIGTERM
    finally:
        sup.kill()
        sup.wait()


# --------------------------------------------------------------------------- a kill -9 settles
def test_a_killed_local_run_settles_as_failed_on_the_next_list(tmp_path):
    root = make_run(tmp_path / "ws", "killed", status={"state": "running", "phase": "train", "epoch": 0},
                    job_state={"attempt": 1, "supervisor": dead_ref(), "trainer": dead_ref()})
    ckpt = root / "checkpoints"
    ckpt.mkdir()
    stale = ckpt / f".model_checkpoint_latest.pth.{dead_ref()['pid']}.x1y2.tmp"
    stale.write_bytes(b"half")
    live = ckpt / f".model_checkpoint_best.pth.{os.getpid()}.a1b2.tmp"  # a live writer's: kept
    live.write_bytes(b"half")
    (row,) = [r.summary() for r in list_runs(tmp_path / "ws")]
    assert row["state"] == "failed" and row["error"] == PROCESSES_DIED
    assert not stale.exists() and live.exists()


def test_a_killed_stickgen_train_run_settles_as_failed(tmp_path, tiny_data):
    """A real trainer (`stickgen train --run-dir`, no job), killed with SIGKILL mid-training."""
    from tests.jobs.conftest import TINY

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(json.dumps({**TINY, "training": {**TINY["training"], "epochs": 400, "batch_size": 4}}))
    ws = tmp_path / "ws"
    run_dir = ws / "runs" / "manual"
    proc = subprocess.Popen([sys.executable, "-m", "stickgen_core.train", "--config", str(cfg), "--data_path",
                             str(tiny_data), "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "metrics.jsonl").is_file() or not (run_dir / "metrics.jsonl").stat().st_size:
            assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        assert Run(run_dir).raw_status()["process"]["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert Run(run_dir).raw_status()["state"] == "running"  # nobody wrote a final status
    stale = run_dir / "checkpoints" / f".model_checkpoint_latest.pth.{proc.pid}.q9.tmp"
    stale.write_bytes(b"half")
    (row,) = [r.summary() for r in list_runs(ws)]
    assert row["state"] == "failed" and row["error"] == PROCESSES_DIED
    assert not stale.exists()


# --------------------------------------------------------------------------- log tails
def test_tail_of_a_100_mb_log_without_newlines_is_fast_and_bounded(tmp_path):
    log = tmp_path / "train.log"
    with open(log, "wb") as fh:
        fh.truncate(100 << 20)  # sparse: 100 MB of NULs, no newline
    start = time.perf_counter()
    lines = tail_lines(log, 5)
    assert time.perf_counter() - start < 1.0
    assert len(lines) == 1 and len(lines[0]) < 5000 and lines[0].endswith("[...]")
    assert len(tail_lines(log, 10**9)) == 1  # a huge n is capped, not a huge read


def test_tail_lines_are_exact_on_an_ordinary_log(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i}\n" for i in range(50_000)))
    assert tail_lines(log, 3) == ["line 49997", "line 49998", "line 49999"]
    assert tail_lines(log, 3, block=7) == ["line 49997", "line 49998", "line 49999"]
    log.write_text("a\nb")
    assert tail_lines(log, 5) == ["a", "b"] and tail_lines(log, 0) == []
    assert tail_lines(tmp_path / "missing.log", 5) == []


def test_damaged_metrics_lines_are_unreadable_rows_not_errors(tmp_path):
    root = make_run(tmp_path / "ws", "m", status={"state": "completed"})
    (root / "metrics.jsonl").write_text(json.dumps({"type": "step", "step": 1}) + "\n" + "[" * 100_000 + "\n5\n")
    rows, offset = Run(root).read_metrics(0)
    assert rows == [{"type": "step", "step": 1}, {"type": "unreadable", "line": 1}, {"type": "unreadable", "line": 2}]
    assert offset == 3


def test_stop_on_a_folder_stickgen_train_wrote_is_one_line(tmp_path):
    root = make_run(tmp_path / "ws", "manual", run={"stage": "pretrain", "run_created": "2026-01-01"},
                    status={"state": "running"})
    with pytest.raises(JobError, match=r"run manual: not started by `stickgen jobs` \(no job in run.json\)"):
        Run(root).stop(wait=False)


def test_a_trainer_on_another_machine_is_not_declared_dead_here(tmp_path):
    """A shared run folder: the pid of a trainer on another host says nothing about this one."""
    ref = {**dead_ref(), "host": "some-other-host"}
    root = make_run(tmp_path / "ws", "remote", run={"stage": "pretrain"}, status={"state": "running", "process": ref})
    assert Run(root).status()["state"] == "running"
    write_json(root / "status.json", {"state": "running", "process": {**ref, "host": socket.gethostname()}})
    assert Run(root).status()["state"] == "failed"
