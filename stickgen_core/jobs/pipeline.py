"""The pipeline a job runs: embed (when the data has no embeddings) then train, under one supervisor.

``python -m stickgen_core.jobs.pipeline RUN_DIR`` is what the local backend starts (detached) and
what the RunPod entrypoint runs in-process. Each step is a CLI command (jobs uses train's CLI,
never its internals). SIGTERM is forwarded to the running step: the trainer saves its latest
checkpoint and marks the run 'stopped'. A step that dies without a final status marks the run
'failed' with the tail of its output.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..io import has_embeddings
from ..progress_file import read_progress
from ..run_state import RunState
from .local import promote_queued
from .process import ProcessRef, spawn
from .run_record import RunRecord, failure_tail

log = logging.getLogger("stickgen_core.jobs.pipeline")  # not __name__: it is __main__ under -m

#: the embed step's count (written by ``stickgen embed --progress-file``, read here into the run's status)
EMBED_PROGRESS = "embed_progress.json"
#: how often a step's count is read while it runs
PROGRESS_POLL_S = 0.5


@dataclass
class Step:
    name: str
    argv: list[str]


def trainer_argv(python: str, gpus: int) -> list[str]:
    """The trainer's launcher: one process, or torchrun with one process per GPU of this machine.

    torchrun runs as ``python -m torch.distributed.run`` (the module behind the ``torchrun`` script),
    so it is the same interpreter's torch whatever PATH says; ``--standalone`` picks a free rendezvous
    port, so two runs on one machine never meet on 29500.
    """
    if gpus <= 1:
        return [python, "-m", "stickgen_core.train"]
    return [python, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", str(gpus),
            "-m", "stickgen_core.train"]


def plan(run: RunRecord, python: str = sys.executable) -> list[Step]:
    """The commands of this attempt: embed if needed, then train (resume/init from the job)."""
    spec = run.spec
    state = run.job_state()
    data = state.get("train_data") or spec.data
    steps: list[Step] = []
    if not state.get("train_data") and not has_embeddings(spec.data):
        data = str(run.root / "data" / f"{Path(spec.data).stem}_embedded.pt")
        steps.append(Step("embed", [python, "-m", "stickgen_core.cli", "embed", "--input", spec.data,
                                    "--output", data, "--config", str(run.root / "config.yaml"),
                                    "--progress-file", str(run.root / EMBED_PROGRESS)]))
    train = [*trainer_argv(python, spec.gpu_count), "--config", str(run.root / "config.yaml"),
             "--data_path", data, "--run-dir", str(run.root)]
    resume = state.get("resume_from") or spec.resume_from
    if resume:
        train += ["--resume_from", resume]
    elif spec.init_from:
        train += ["--init_from", spec.init_from]
    steps.append(Step("train", train))
    run.update_job_state(planned_train_data=data)
    return steps


class Supervisor:
    """Runs the steps one after another in the foreground of its own process."""

    def __init__(self, run: RunRecord, nice: int = 0) -> None:
        self.run = run
        self.nice = nice
        self.stop_requested = False
        self.child = None
        self.state = RunState.RUNNING

    def _on_signal(self, signum, _frame) -> None:
        log.warning("received %s: stopping the run", signal.Signals(signum).name)
        first = not self.stop_requested
        self.stop_requested = True
        if first and self.child is not None and self.child.poll() is None:  # once: the trainer is saving
            self.child.send_signal(signal.SIGTERM)

    def execute(self) -> str:
        """Run every step; returns the final state (the jobs layer records it in job_state.json)."""
        run = self.run
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._on_signal)
        run.update_job_state(supervisor=ProcessRef.of(os.getpid()).to_dict())
        try:
            steps = plan(run)
        except Exception as exc:  # bad data: one line, recorded where the runs list shows it
            run.set_status(RunState.FAILED, error=f"{type(exc).__name__}: {exc}", log_tail=[])
            return RunState.FAILED
        for step in steps:
            if self.stop_requested:
                break
            run.set_status(RunState.RUNNING, phase=step.name, error=None, progress=None)
            (run.root / EMBED_PROGRESS).unlink(missing_ok=True)  # an earlier attempt's count is not this one's
            log.info("step %s: %s", step.name, " ".join(step.argv))
            self.child = spawn(step.argv, run.root / "console.log", detach=False, nice=self.nice)
            run.update_job_state(**{"trainer" if step.name == "train" else "step_process":
                                    ProcessRef.of(self.child.pid).to_dict()})
            code = self._wait(step)
            self.child = None
            if step.name == "embed":
                if code == 0:
                    run.update_job_state(train_data=run.job_state()["planned_train_data"])
                    continue
                if self.stop_requested:
                    break
                return self._fail(f"embedding failed (exit code {code})")
            return self._after_train(code)
        run.set_status(RunState.STOPPED, phase=None, error=None)
        return RunState.STOPPED

    def _wait(self, step: Step) -> int:
        """The step's exit code; meanwhile the embed step's count goes into the run's status
        (``progress``: done, total, unit), so the runs list reads 'embedding 1,200 / 2,504 clips'."""
        last = None
        while True:
            try:
                code = self.child.wait(timeout=PROGRESS_POLL_S)
            except subprocess.TimeoutExpired:
                code = None
            count = read_progress(self.run.root / EMBED_PROGRESS) if step.name == "embed" else None
            if count is not None and count != last and not self.stop_requested:
                self.run.set_status(RunState.RUNNING, phase=step.name, progress=count)
                last = count
            if code is not None:
                return code

    def _after_train(self, code: int) -> str:
        status = self.run.raw_status()
        state = status.get("state")
        # the trainer's own final status wins (a signal while it exits after saving changes nothing)
        if state in (RunState.COMPLETED, RunState.STOPPED):
            self.run.set_status(state, phase=None)
            return state
        if self.stop_requested and code == -signal.SIGTERM and state != RunState.FAILED:
            # asked to stop while still starting (before its handler was in place): it trained nothing new,
            # the last attempt's checkpoints stand, so this is a stop, not a failure
            self.run.set_status(RunState.STOPPED, phase=None, error=None)
            return RunState.STOPPED
        why = status.get("error") if state == RunState.FAILED else None
        if code < 0:
            why = why or f"the trainer was killed by {signal.Signals(-code).name}"
        return self._fail(why or f"the trainer exited with code {code} without a final status")

    def _fail(self, error: str) -> str:
        self.run.set_status(RunState.FAILED, phase=None, error=error, log_tail=failure_tail(self.run))
        log.error("run %s failed: %s", self.run.run_id, error)
        return RunState.FAILED


def supervise(run_dir: str | Path, nice: int = 0) -> Supervisor:
    """Run a prepared run folder's pipeline here (logs go to its train.log); the finished supervisor,
    whose ``state`` is the final state and ``stop_requested`` says whether this process was signalled."""
    sup = Supervisor(RunRecord(run_dir), nice=nice)
    handler = logging.FileHandler(sup.run.root / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("stickgen_core").addHandler(handler)
    logging.getLogger("stickgen_core").setLevel(logging.INFO)
    try:
        sup.state = sup.execute()
        return sup
    finally:
        logging.getLogger("stickgen_core").removeHandler(handler)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m stickgen_core.jobs.pipeline", description=__doc__)
    p.add_argument("run_dir")
    p.add_argument("--nice", type=int, default=0, help="niceness of the steps (the CPU may be shared)")
    args = p.parse_args(argv)
    state = supervise(args.run_dir, nice=args.nice).state
    run = RunRecord(args.run_dir)
    if run.spec.backend == "local":
        promote_queued(run.workspace)  # this run's slot is free: the next queued run starts
    return 0 if state in (RunState.COMPLETED, RunState.STOPPED) else 1


if __name__ == "__main__":
    sys.exit(main())
