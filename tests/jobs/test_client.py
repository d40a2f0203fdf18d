"""JobClient: the workspace's runs by id, over the registry and the backends (fake processes and clock)."""

import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs import JobClient, RunState, client as client_module

from .test_state_transitions import clock, procs  # noqa: F401 - fixtures


def test_launch_status_stop_list_by_id(tmp_path, tiny_spec, procs, clock):  # noqa: F811
    jobs = JobClient(tmp_path / "ws")
    first = jobs.launch(tiny_spec(run_name="a"))
    second = jobs.launch(tiny_spec(run_name="b"))
    assert jobs.status("a")["state"] == RunState.RUNNING and jobs.status("b")["state"] == RunState.QUEUED
    assert jobs.stop("b").status()["state"] == RunState.STOPPED
    assert [(r["run_id"], r["state"], r["pod"]) for r in jobs.list()] == [
        ("a", RunState.RUNNING, None), ("b", RunState.STOPPED, None)]
    assert jobs.run(first.root).root == first.root and jobs.run(second).run_id == "b"
    with pytest.raises(JobError, match="no run 'c'"):
        jobs.status("c")


def test_terminate_is_for_pods_only_and_refuses_before_acting(tmp_path, tiny_spec, procs):  # noqa: F811
    jobs = JobClient(tmp_path / "ws")
    jobs.launch(tiny_spec(run_name="a"))
    with pytest.raises(JobError, match="only a RunPod run has a pod"):
        jobs.terminate("a")
    with pytest.raises(JobError, match="--terminate: only a RunPod run"):
        jobs.stop("a", terminate=True)
    assert jobs.status("a")["state"] == RunState.RUNNING and procs.sent == []  # nothing was stopped


def test_a_list_row_for_a_run_that_cannot_be_read(tmp_path, tiny_spec, procs, monkeypatch):  # noqa: F811
    jobs = JobClient(tmp_path / "ws")
    run = jobs.launch(tiny_spec(run_name="a"))
    monkeypatch.setattr(type(run), "summary", lambda self: 1 / 0)
    row, = jobs.list()
    assert row["state"] == RunState.UNREACHABLE and row["error"].startswith("ZeroDivisionError")


def test_follow_logs_ends_with_the_run_and_shows_its_last_lines(tmp_path, tiny_spec, procs, clock,  # noqa: F811
                                                               monkeypatch):
    monkeypatch.setattr(client_module, "time", clock)
    jobs = JobClient(tmp_path / "ws")
    run = jobs.launch(tiny_spec(run_name="a"))
    log = run.root / "train.log"
    log.write_text("one\ntwo\n")
    lines = jobs.follow_logs("a", lines=1, poll_s=1.0)
    assert next(lines) == "two"

    def finish():
        with open(log, "a") as fh:
            fh.write("three\n")
        run.set_status(RunState.COMPLETED)
    clock.at(0.5, finish)  # written during the poll's sleep
    assert list(lines) == ["three"]
    with open(log, "a") as fh:
        fh.write("four\n")
    assert jobs.logs("a", 2) == ["three", "four"]
