"""State transitions of a run with a fake process table and a fake clock (tests/jobs/fakes.py): no
training, no real process, no waiting. What a run's state may and may not become: a stopped queued run
never starts, a live unrelated pid is not the run, 'failed' only once every process is gone, an
unreachable pod that answers again is running again, a damaged folder never runs."""

import signal
import sys

import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs import Run, RunState, local, process, registry
from stickgen_core.jobs import runpod_backend as rpb
from stickgen_core.jobs import run_record
from stickgen_core.jobs.run import PROCESSES_DIED, now_iso, write_json

from .fakes import FakeClock, FakeProcesses

SETTINGS = {"image": "stickgen/train:1.0", "gpu_types": ["GPU A"], "poll_s": 10.0, "network_volume_id": "vol"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def procs(clock, monkeypatch):
    """The fake table stands for every process the jobs layer looks at, signals or starts."""
    table = FakeProcesses(clock)
    monkeypatch.setattr(process, "psutil", table.as_psutil())
    monkeypatch.setattr(process.os, "kill", table.kill)
    monkeypatch.setattr(local, "time", clock)
    monkeypatch.setattr(run_record, "time", clock)  # when the jobs layer's view was written

    def spawn(argv, log_path, *, detach, env=None, nice=0):
        return table.start(list(argv), cwd=str(log_path.parent))
    monkeypatch.setattr(local, "spawn", spawn)
    return table


def make_run(tmp_path, tiny_spec, name, state=None, **spec):
    root = tmp_path / "ws" / "runs" / name
    root.mkdir(parents=True)
    write_json(root / "run.json", {"run_id": name, "job": tiny_spec(**spec).to_dict(), "stage": "pretrain",
                                   "run_created": now_iso()})
    run = Run(root)
    if state is not None:
        run.set_status(state)
    return run


def supervisor_argv(run):
    return [sys.executable, "-m", "stickgen_core.jobs.pipeline", str(run.root)]


def spawned(procs, run):
    return [p for p in procs.table.values() if str(run.root) in p.argv]


def test_stopping_a_queued_run_never_starts_it(tmp_path, tiny_spec, procs, clock):
    first = make_run(tmp_path, tiny_spec, "a")
    first.backend.start(first)  # the one slot: it runs
    assert first.raw_status()["state"] == RunState.RUNNING and spawned(procs, first)
    queued = make_run(tmp_path, tiny_spec, "b")
    clock.advance(1)
    queued.backend.start(queued)
    assert queued.status()["state"] == RunState.QUEUED and not spawned(procs, queued)
    assert queued.stop()["state"] == RunState.STOPPED
    first.set_status(RunState.COMPLETED)  # the slot frees up: the queue moves on without the stopped run
    procs.exit(first.job_state()["supervisor"]["pid"])
    assert local.promote_queued(first.workspace) == []
    assert queued.status()["state"] == RunState.STOPPED and not spawned(procs, queued)
    assert procs.sent == []  # nothing was signalled to stop a run that never ran


def test_a_live_unrelated_pid_is_not_the_run(tmp_path, tiny_spec, procs):
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    sup = run.job_state()["supervisor"]
    procs.exit(sup["pid"])
    procs.start(["sleep", "600"], pid=sup["pid"])  # the kernel gave its pid to another process
    assert run.status()["state"] == RunState.FAILED  # that process is not the run: the run died
    assert run.status()["error"] == PROCESSES_DIED
    assert procs.sent == []


def test_a_tampered_record_naming_a_live_process_is_never_signalled(tmp_path, tiny_spec, procs):
    run = make_run(tmp_path, tiny_spec, "r", state=RunState.RUNNING)
    other = procs.start(["tail", "-f", str(run.root / "train.log")])  # names the folder, is not stickgen
    run.update_job_state(supervisor={"pid": other.pid, "create_time": other.create_time})
    with pytest.raises(JobError, match="not this run's"):
        run.stop(wait=False)
    assert procs.sent == [] and other.pid in procs.table


def test_failed_only_after_all_processes_are_gone(tmp_path, tiny_spec, procs):
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    trainer = procs.start([sys.executable, "-m", "stickgen_core.train", "--run-dir", str(run.root)])
    run.update_job_state(trainer={"pid": trainer.pid, "create_time": trainer.create_time})
    procs.exit(run.job_state()["supervisor"]["pid"])  # the supervisor was killed; the trainer is saving
    assert run.status()["state"] == RunState.RUNNING
    procs.exit(trainer.pid)
    status = run.status()
    assert status["state"] == RunState.FAILED and status["error"] == PROCESSES_DIED


def test_a_zombie_is_gone(tmp_path, tiny_spec, procs):
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    procs.table[run.job_state()["supervisor"]["pid"]].zombie = True
    assert run.status()["state"] == RunState.FAILED


def test_stop_waits_for_the_saving_trainer_on_the_clock(tmp_path, tiny_spec, procs, clock):
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    sup = procs.table[run.job_state()["supervisor"]["pid"]]

    def save_then_exit(signum):  # the supervisor forwards SIGTERM; the trainer saves for 30 s
        assert signum == signal.SIGTERM
        clock.at(30, lambda: (run.set_status(RunState.STOPPED), procs.exit(sup.pid)))
    sup.on_signal = save_then_exit
    start = clock.now
    assert run.stop(timeout=120)["state"] == RunState.STOPPED
    assert 30 <= clock.now - start < 31
    assert procs.sent == [(sup.pid, signal.SIGTERM)]


def test_release_gives_up_after_its_timeout(tmp_path, tiny_spec, procs, clock):
    run = make_run(tmp_path, tiny_spec, "r")
    run.backend.start(run)
    start = clock.now
    with pytest.raises(JobError, match="still runs"):
        run.backend.release(run, timeout=60)
    assert 60 <= clock.now - start < 61


def test_damaged_never_becomes_running(tmp_path, tiny_spec, procs):
    run = make_run(tmp_path, tiny_spec, "r", state=RunState.QUEUED)
    run.update_job_state(queued_at="yesterday")  # hand-edited: a number was expected
    assert run.summary()["state"] == RunState.DAMAGED
    assert local.promote_queued(run.workspace) == []
    registry.list_runs(run.workspace)  # a list refresh moves the queue on: not this run
    assert not spawned(procs, run) and run.summary()["state"] == RunState.DAMAGED
    with pytest.raises(JobError, match="damaged"):
        run.stop()


@pytest.fixture
def pod_run(tmp_path, tiny_spec, clock, monkeypatch):
    """A RunPod run whose pod is up: the API answers with the pod, the agent is a fake."""
    monkeypatch.setattr(rpb, "time", clock)
    monkeypatch.setattr(rpb, "get_pod", lambda pod_id: {"id": pod_id, "desiredStatus": "RUNNING", "costPerHr": 1.0,
                                                        "runtime": {"uptimeInSeconds": int(clock.now), "ports": [1]}})
    run = make_run(tmp_path, tiny_spec, "pod", state=RunState.RUNNING, backend="runpod", backend_settings=SETTINGS)
    run.update_job_state(pod_id="p1", remote_run_dir="/runpod-volume/runs/pod", agent_url="http://127.0.0.1:9")
    return run


class FakeAgent:
    def __init__(self):
        self.answer: dict | Exception = {"status": {"state": "running", "epoch": 1}, "checkpoints": []}

    def status(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_unreachable_then_reachable_again_recovers(pod_run, clock, monkeypatch):
    from stickgen_core.errors import AgentError

    agent = FakeAgent()
    monkeypatch.setattr(rpb.RunPodBackend, "client", lambda self, run: agent)
    assert pod_run.summary()["state"] == RunState.RUNNING
    agent.answer = AgentError("connection refused")
    clock.advance(11)
    row = pod_run.summary()
    assert row["state"] == RunState.UNREACHABLE and "connection refused" in row["error"]
    assert "last known: running" in row["error"]
    agent.answer = {"status": {"state": "running", "epoch": 2}, "checkpoints": []}
    clock.advance(11)
    row = pod_run.summary()
    assert row["state"] == RunState.RUNNING and row["epoch"] == 2 and row["error"] is None


def test_an_unreachable_run_that_ended_is_its_end(pod_run, clock, monkeypatch):
    from stickgen_core.errors import AgentError

    agent = FakeAgent()
    monkeypatch.setattr(rpb.RunPodBackend, "client", lambda self, run: agent)
    agent.answer = AgentError("timed out")
    pod_run.summary()
    agent.answer = {"status": {"state": "completed", "epoch": 3}, "checkpoints": []}
    clock.advance(11)
    assert pod_run.summary()["state"] == RunState.COMPLETED


def test_state_enum():
    assert [s for s in RunState if s.is_terminal] == [RunState.COMPLETED, RunState.FAILED, RunState.STOPPED]
    assert [s for s in RunState if s.is_active] == [RunState.QUEUED, RunState.RUNNING]
    assert RunState.of("failed") is RunState.FAILED and RunState.of(5) is RunState.UNKNOWN
    assert {"failed": 1}[RunState.FAILED] == 1 and f"{RunState.FAILED}" == "failed"


def test_a_run_still_uploading_its_data_has_no_agent_to_miss(tmp_path, tiny_spec, clock, monkeypatch):
    """Before its pod exists (the data still going to the volume) a RunPod run is queued, never unreachable:
    there is no agent to ask yet, and the real client for a folder without an agent URL refuses."""
    monkeypatch.setattr(rpb, "time", clock)
    run = make_run(tmp_path, tiny_spec, "up", backend="runpod", backend_settings=SETTINGS)
    run.set_status(RunState.QUEUED, phase="uploading")
    (run.root / ".agent_token").write_text("t")
    row = run.summary()
    assert row["state"] == RunState.QUEUED and not run.job_state().get("unreachable"), row
    run.update_job_state(pod_id="p1", agent_url="http://127.0.0.1:9")  # the pod is asked for: now there is one
    run.set_status(RunState.RUNNING, phase="starting")
    agent = FakeAgent()
    monkeypatch.setattr(rpb.RunPodBackend, "client", lambda self, run: agent)
    monkeypatch.setattr(rpb, "get_pod", lambda pod_id: {"id": pod_id, "desiredStatus": "RUNNING",
                                                        "runtime": {"uptimeInSeconds": 1, "ports": [1]}})
    assert run.summary()["state"] == RunState.RUNNING


def test_a_pod_gone_because_of_a_stop_is_stopped_not_failed(pod_run, monkeypatch):
    """A poll between the Stop's terminate call and its 'stopped' finds no pod: that is the stop, not a loss."""
    monkeypatch.setattr(rpb, "get_pod", lambda pod_id: None)
    monkeypatch.setattr(rpb, "run_status_on_volume", lambda settings, run_dir: {})
    pod_run.update_job_state(stop_requested=True)
    rpb.RunPodBackend(SETTINGS).check_pod(pod_run, force=True)
    assert pod_run.raw_status()["state"] == RunState.STOPPED
    pod_run.update_job_state(stop_requested=False, pod_ended=False, terminated=False)
    pod_run.set_status(RunState.RUNNING)
    rpb.RunPodBackend(SETTINGS).check_pod(pod_run, force=True)  # gone with nobody asking: a lost pod
    assert pod_run.raw_status()["state"] == RunState.FAILED
