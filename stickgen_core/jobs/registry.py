"""The runs of a workspace: launch, list, find, resume and SFT from a finished run."""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

import yaml

from ..curation.export import PRETRAIN_FILE, SFT_FILE, STATS_FILE
from ..errors import JobError
from ..limits import read_json_file
from .delivery import check
from .local import promote_queued
from .run import ACTIVE, BEST, TERMINAL, Run, now_iso, write_json
from .run_record import RunRecord, run_folders, runs_dir
from .runpod_backend import RunPodBackend
from .skypilot import launch_check
from .spec import JobSpec, sft_config_for

log = logging.getLogger(__name__)
RELEASE_TIMEOUT_S = 60.0  # how long resume and delete wait for a stopping trainer to finish saving


def _new_run_dir(workspace: str | Path, spec: JobSpec) -> Path:
    base = spec.run_name or f"{spec.stage}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    root = runs_dir(workspace)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()  # atomic: two launches never share a folder
            return path
        except FileExistsError:
            continue
    raise JobError(f"job.run_name: {base!r} is taken 999 times over in {root}")


_SPLIT_FILES = {PRETRAIN_FILE: "pretrain", SFT_FILE: "sft"}


def empty_split(data: str | Path) -> str | None:
    """A message when ``data`` is a curated split whose ``curation_stats.json`` (written beside it by
    the same export) counts 0 clips for it, else None: such a run would fail only once it starts."""
    path = Path(data)
    split = _SPLIT_FILES.get(path.name)
    stats = path.resolve().parent / STATS_FILE
    if split is None or not stats.is_file():
        return None
    try:
        count = read_json_file(stats, "curation stats (JSON)", JobError)[split]
    except (JobError, KeyError, TypeError):
        return None
    if count != 0:
        return None
    return (f"job.data: {path} is an empty {split} split (its curation kept 0 clips for {split}, {stats}); "
            f"loosen the {split} thresholds on the Curate page and export again, or pick another file")


def preflight(spec: JobSpec) -> JobSpec:
    """Every check ``launch`` makes before it creates anything: JobError naming the first bad field."""
    spec.validate()
    if spec.backend in ("local", "skypilot"):  # SkyPilot copies these local files to its nodes
        for name in ("data", "resume_from", "init_from"):
            value = getattr(spec, name)
            if value and not Path(value).is_file():
                raise JobError(f"job.{name}: no such file {value!r}")
        problem = empty_split(spec.data)
        if problem:
            raise JobError(problem)
    if spec.backend == "runpod":
        # unknown settings named, the network volume and the job's files on it checked, before a pod is asked for
        check(spec, RunPodBackend(spec.backend_settings).s)
        problem = empty_split(spec.data) if Path(spec.data).is_file() else None
        if problem:
            raise JobError(problem)
    if spec.backend == "skypilot":
        launch_check(spec.backend_settings)  # settings, a bucket and the `sky` command, before a run folder
    return spec


def launch(spec: JobSpec, workspace: str | Path) -> Run:
    """Validate ``spec``, make its run folder under ``<workspace>/runs/`` and start (or queue) it."""
    preflight(spec)
    # absolute paths: a resume from another folder (the studio) finds them; a RunPod job's volume paths stay
    spec = spec.replace(**{n: str(Path(getattr(spec, n)).resolve()) for n in ("data", "resume_from", "init_from")
                           if getattr(spec, n) and (spec.backend == "local" or Path(getattr(spec, n)).is_file())})
    if Path(spec.config).is_file():
        spec = spec.replace(config=str(Path(spec.config).resolve()))
    root = _new_run_dir(Path(workspace).resolve(), spec)
    run = Run(root)
    (root / "config.yaml").write_text(yaml.safe_dump(spec.resolved_config(), sort_keys=False), encoding="utf-8")
    write_json(root / "run.json", {"run_id": run.run_id, "job": spec.to_dict(), "stage": spec.stage,
                                   "run_created": now_iso()})
    run.update_job_state(attempt=1, resume_from=None)
    run.backend.start(run)
    return run


def list_runs(workspace: str | Path, refresh: bool = True) -> list[Run]:
    """Every run of the workspace, oldest first; ``refresh`` also starts queued local runs whose turn came."""
    if refresh and runs_dir(workspace).is_dir():
        promote_queued(Path(workspace))
    return [Run(r.root) for r in run_folders(workspace)]


def find_run(workspace: str | Path, run: str | Path | RunRecord) -> Run:
    """A run by id (folder name under runs/), by path or by record; a clear error when there is none."""
    if isinstance(run, Run):
        return run
    if isinstance(run, RunRecord):
        return Run(run.root)
    for path in (Path(run), runs_dir(workspace) / str(run)):
        if (path / "run.json").is_file():
            return Run(path)
    raise JobError(f"no run {str(run)!r} in {runs_dir(workspace)} (see `stickgen jobs list`)")


def delete_run(run: Run) -> None:
    """Remove a finished run's folder; a queued or running run is refused (stop it first)."""
    import shutil

    state = run.status().get("state")
    if state in ACTIVE:
        raise JobError(f"run {run.run_id} is {state}; stop it before deleting it")
    if not (run.root / "run.json").is_file():
        raise JobError(f"{run.root}: not a run folder (no run.json); nothing deleted")
    run.backend.release(run, timeout=RELEASE_TIMEOUT_S)  # no trainer still writing, no pod billing on
    shutil.rmtree(run.root)
    log.info("deleted run %s", run.run_id)


def resume_run(run: Run) -> Run:
    """A new attempt of ``run`` in the same folder, continuing from its latest checkpoint."""
    state = run.status().get("state")
    if state not in TERMINAL:
        raise JobError(f"run {run.run_id} is {state}; only a stopped, failed or completed run can be resumed")
    run.backend.release(run, timeout=RELEASE_TIMEOUT_S)  # never two trainers in one folder, never two pods
    latest = run.checkpoint("latest") if run.spec.backend == "local" else None
    remote_latest = run.job_state().get("remote_latest")
    if latest is None and not remote_latest:
        raise JobError(f"run {run.run_id}: no checkpoint to resume from ({run.root / 'checkpoints'} is empty)")
    attempt = int(run.job_state().get("attempt", 1)) + 1
    run.update_job_state(attempt=attempt, resume_from=str(latest) if latest else remote_latest)
    log.info("resuming run %s (attempt %d) from %s", run.run_id, attempt, latest or remote_latest)
    run.backend.start(run)
    return run


def sft_spec(run: Run, *, data: str | None = None, run_name: str | None = None, **changes) -> JobSpec:
    """The JobSpec of an SFT run initialised from ``run``'s best checkpoint, with the matching ``sft_*`` config.

    ``data`` defaults to the SFT split exported beside the parent's pretraining split
    (``pretrain_data*.pt`` -> ``sft_data*.pt``), else the config's ``data.curated_sft_data``;
    LoRA, epochs and learning rate are the SFT config's; ``changes`` override other JobSpec fields.
    """
    parent = run.spec
    best = run.checkpoint("best") if parent.backend == "local" else None
    state = run.job_state()  # a RunPod parent's best is on its volume even when no poll saw it (launch checks it)
    init = str(best) if best else state.get("remote_best") or (
        f"{state['remote_run_dir']}/checkpoints/{BEST}" if state.get("remote_run_dir") else None)
    if not init:
        raise JobError(f"run {run.run_id}: no best checkpoint yet (it is written after the first epoch)")
    config = sft_config_for(parent.config)
    if data is None:
        data = default_sft_data(parent.data, config)
    fields = dict(stage="sft", config=config, data=data, init_from=init, resume_from=None, lora=None,
                  run_name=run_name or f"{run.run_id}-sft", epochs=None, learning_rate=None)
    return parent.replace(**{**fields, **changes})


def sft_from(run: Run, workspace: str | Path | None = None, *, data: str | None = None,
             run_name: str | None = None, **changes) -> Run:
    """Launch ``sft_spec(run, ...)``: a new SFT run from ``run``'s best checkpoint."""
    return launch(sft_spec(run, data=data, run_name=run_name, **changes), workspace or run.workspace)


def default_sft_data(pretrain_data: str, sft_config: str) -> str:
    """The SFT split curation exported next to ``pretrain_data``, else the SFT config's curated path."""
    from ..config import load_config

    path = Path(pretrain_data)
    sibling = path.with_name(path.name.replace("pretrain", "sft", 1))
    if sibling != path and sibling.is_file():
        return str(sibling)
    cfg = load_config(JobSpec(stage="sft", config=sft_config, data="-").config_path())
    if cfg.data.curated_sft_data:
        return cfg.data.curated_sft_data
    raise JobError(f"job.data: no SFT split beside {pretrain_data} and {sft_config} names none; pass data=")
