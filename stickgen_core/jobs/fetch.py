"""Checkpoints home: ``stickgen jobs fetch RUN [best|latest|all] [--to DIR]`` and the studio's Download.

A RunPod run's checkpoints come from the pod's agent while the pod is up, else (or when the agent
cannot be reached) from the network volume through its S3 API; both continue a ``.part`` file
left by an interrupted try and verify the bytes after they have streamed. A local run's are
already in its folder (``--to`` copies them). Fetched files land in the run folder's
``checkpoints/`` by default, where Eval and SFT find them like a local run's.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import AgentError, JobError, VolumeStorageError
from ..io import atomic_path
from .agent_client import agent_client_for
from .run_record import BEST, LATEST, RunRecord
from .runpod_settings import validated
from .volume_storage import Interrupted, Sink, Volume, file_sha256

log = logging.getLogger(__name__)

WHICH = {"best": (BEST,), "latest": (LATEST,), "all": (BEST, LATEST)}
TRIES = 50  # continuations of one file while each gets further (RunPod's proxy cuts requests at 100 s)


def fetch(run: RunRecord, which: str = "best", to: str | Path | None = None, sink: Sink | None = None, *,
          progress: Callable[[float, float], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Bring ``which`` checkpoint(s) of ``run`` to ``to`` (default: the run folder's checkpoints/).

    One row per file: name, path, sha256, bytes, source (``agent``, ``volume`` or ``local``). With
    ``all``, a checkpoint the run has not written yet is skipped; JobError when none can be had.
    ``progress(done, total)`` / ``should_stop()`` are the task callbacks a GUI passes: a stop raises
    InterruptedError and leaves the ``.part`` for the next fetch to continue.
    """
    if progress is not None or should_stop is not None:
        sink = _callbacks(sink, progress, should_stop)
    if which not in WHICH:
        raise JobError(f"fetch: expected one of {sorted(WHICH)}, got {which!r}")
    folder = Path(to) if to else run.root / "checkpoints"
    rows, missing = [], []
    for name in WHICH[which]:
        try:
            rows.append(_one(run, name, folder / name, sink))
        except _Missing as exc:
            missing.append(str(exc))
    if missing and (which != "all" or not rows):
        raise JobError("; ".join(missing))
    if run.spec.backend == "runpod":
        run.update_job_state(fetched={**run.job_state().get("fetched", {}),
                                      **{r["name"]: {k: r[k] for k in ("path", "sha256", "source", "at")} for r in rows}})
    return rows


def _callbacks(sink: Sink | None, progress: Callable[[float, float], None] | None,
               should_stop: Callable[[], bool] | None) -> Sink:
    def both(done: int, total: int, rate: float, eta: float | None) -> None:
        if should_stop is not None and should_stop():
            raise InterruptedError("fetch cancelled")
        if progress is not None:
            progress(done, total)
        if sink is not None:
            sink(done, total, rate, eta)
    return both


class _Missing(JobError):
    """The run has no such checkpoint (yet)."""


def _one(run: RunRecord, name: str, dest: Path, sink: Sink | None) -> dict[str, Any]:
    if run.spec.backend != "runpod":
        src = run.root / "checkpoints" / name
        if not src.is_file():
            raise _Missing(f"run {run.run_id}: no {name} in {src.parent}")
        if dest.resolve() != src.resolve():
            with atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)
        return _row(name, dest, file_sha256(dest), "local")
    state = run.job_state()
    if state.get("agent_url") and not state.get("pod_ended") and not state.get("terminated"):
        try:
            return _row(name, dest, continuing(lambda: agent_client_for(run).fetch(name, dest, sink), dest), "agent")
        except (AgentError, Interrupted) as exc:  # the pod is gone or busy: the volume holds the same file
            if "no checkpoint" in str(exc) and "HTTP" not in str(exc):
                raise _Missing(f"run {run.run_id}: the pod has no {name} yet") from None
            log.info("run %s: the agent did not serve %s (%s); fetching from the volume", run.run_id, name, exc)
    volume = Volume.from_settings(validated(run.spec.backend_settings))
    run_dir = state.get("remote_run_dir") or f"{volume.mount_path}/runs/{run.run_id}"
    key = volume.key_of(f"{run_dir}/checkpoints/{name}")
    if key is None:
        raise JobError(f"run {run.run_id}: its run folder {run_dir} is not on the network volume")
    if volume.head(key) is None:
        raise _Missing(f"run {run.run_id}: no {name} on volume {volume.volume_id} ({volume.path_of(key)})")
    try:
        digest = continuing(lambda: volume.download(key, dest, sink), dest)
    except VolumeStorageError as exc:
        if "changed while" not in str(exc):
            raise
        digest = continuing(lambda: volume.download(key, dest, sink), dest)  # a new save landed: from the start
    return _row(name, dest, digest, "volume")


def continuing(step: Callable[[], str], dest: Path, tries: int = TRIES) -> str:
    """``step()`` (a resumable download to ``dest``) again after an interruption, as long as each try got
    further than the one before; the last interruption is raised when one makes no progress."""
    part = dest.with_name(dest.name + ".part")
    for attempt in range(tries):
        before = part.stat().st_size if part.is_file() else 0
        try:
            return step()
        except Interrupted as exc:
            if attempt == tries - 1 or (part.stat().st_size if part.is_file() else 0) <= before:
                raise
            log.info("%s; continuing", exc)
    raise AssertionError("unreachable")


def _row(name: str, path: Path, sha256: str, source: str) -> dict[str, Any]:
    return {"name": name, "path": str(path), "sha256": sha256, "bytes": path.stat().st_size, "source": source,
            "at": time.time()}
