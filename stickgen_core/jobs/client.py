"""``JobClient``: the runs of one workspace behind one object, whatever backend runs them.

The shape of Ray Jobs' ``JobSubmissionClient``: launch a spec, then address the run by id::

    client = JobClient("ws")
    run = client.launch(JobSpec(stage="pretrain", config="small", data="data/curated/pretrain_data.pt"))
    client.status(run.run_id)["state"]; client.logs(run.run_id, 20); client.stop(run.run_id)
    client.fetch(run.run_id, "best"); client.list()

It holds no state of its own: every call reads the run folder (``RunRecord``) and asks the run's backend
(through ``Run``),
so the CLI, a script and the studio see the same runs. The registry's functions do the work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import JobError
from ..run_state import TERMINAL, RunState
from .fetch import fetch
from .registry import delete_run, find_run, launch, list_runs, resume_run, sft_from
from .run import Run
from .spec import JobSpec


FOLLOW_WINDOW = 200  # lines of the log's end each poll of follow_logs compares


class JobClient:
    def __init__(self, workspace: str | Path) -> None:
        self.workspace = Path(workspace)

    def run(self, run: str | Path | Run) -> Run:
        """A run by id (its folder under runs/), path or Run; JobError when there is none."""
        return find_run(self.workspace, run)

    def launch(self, spec: JobSpec) -> Run:
        """Validate ``spec``, make its run folder and start (or queue) it."""
        return launch(spec, self.workspace)

    def status(self, run: str | Path | Run) -> dict[str, Any]:
        """state (a RunState), epoch, global_step, error, updated; the backend is asked first."""
        return self.run(run).status()

    def stop(self, run: str | Path | Run, *, wait: bool = True, timeout: float = 120.0,
             terminate: bool = False) -> Run:
        """Stop the run (it saves its latest checkpoint; a queued one leaves the queue); ``terminate``
        also removes a RunPod run's pod."""
        r = self.run(run)
        if terminate:
            self._pod_backend(r, "--terminate: only a RunPod run has a pod to remove")
        r.stop(wait=wait, timeout=timeout)
        if terminate:
            r.backend.terminate(r)
        return r

    def terminate(self, run: str | Path | Run) -> Run:
        """Remove a RunPod run's pod now (the network volume keeps the run)."""
        r = self.run(run)
        self._pod_backend(r, f"run {r.run_id} is a {r.spec.backend} run: only a RunPod run has a pod to terminate")
        r.backend.terminate(r)
        return r

    def resume(self, run: str | Path | Run) -> Run:
        return resume_run(self.run(run))

    def delete(self, run: str | Path | Run) -> str:
        """Remove a finished run's folder (refuses an active run); its id."""
        r = self.run(run)
        delete_run(r)
        return r.run_id

    def sft_from(self, run: str | Path | Run, **kw: Any) -> Run:
        return sft_from(self.run(run), self.workspace, **kw)

    def fetch(self, run: str | Path | Run, which: str = "best", to: str | Path | None = None,
              sink: Callable[[int, int, float, float | None], None] | None = None) -> list[dict[str, Any]]:
        """Bring checkpoints home (a pod's agent, else the network volume): one row per file."""
        return fetch(self.run(run), which, to, sink=sink)

    def logs(self, run: str | Path | Run, lines: int = 40) -> list[str]:
        """The last ``lines`` lines of the run's train.log."""
        return self.run(run).log_tail(lines)

    def follow_logs(self, run: str | Path | Run, lines: int = 40, poll_s: float = 1.0) -> Iterator[str]:
        """The log's last ``lines`` lines, then each new line as it comes, until the run ends."""
        r = self.run(run)
        shown = r.log_tail(FOLLOW_WINDOW)  # the same window each time: where the last one ended is found in the next
        yield from shown[-lines:] if lines > 0 else []
        while True:
            ended = r.status().get("state") in TERMINAL  # read before the tail: the last lines are shown
            time.sleep(poll_s)
            new = r.log_tail(FOLLOW_WINDOW)
            overlap = next((k for k in range(min(len(shown), len(new)), 0, -1) if shown[-k:] == new[:k]), 0)
            yield from new[overlap:]
            shown = new
            if ended:
                return

    def list(self) -> list[dict[str, Any]]:
        """One row per run (``Run.summary``) with ``pod``: a RunPod run's pod while it exists. A run that
        cannot be read or reached is a row saying so: one failure never hides the other runs."""
        return [self._row(r) for r in list_runs(self.workspace)]

    @staticmethod
    def _row(run: Run) -> dict[str, Any]:
        try:
            row = run.summary()
        except Exception as exc:  # noqa: BLE001 - whatever one run raises, the list goes on
            row = {"run_id": run.run_id, "stage": None, "backend": None, "state": RunState.UNREACHABLE,
                   "epoch": None, "global_step": None, "error": f"{type(exc).__name__}: {exc}", "path": str(run.root)}
        row["pod"] = None
        if row.get("backend") == "runpod":
            try:
                row["pod"] = run.backend.pod_billing(run)
            except Exception as exc:  # noqa: BLE001
                row["pod"] = {"unreachable": f"{type(exc).__name__}: {exc}"}
        return row

    @staticmethod
    def _pod_backend(run: Run, message: str) -> None:
        if run.spec.backend != "runpod":
            raise JobError(message)
