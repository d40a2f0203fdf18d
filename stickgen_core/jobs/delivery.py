"""What a RunPod run needs on its network volume before the pod starts, and getting it there.

A job's files are local paths or paths on the volume (``/runpod-volume/...``). Local ones (the
split, its embedded twin, a checkpoint to start from, a config that is not one the image ships)
are uploaded through the volume's S3 API, content-addressed; paths on the volume must exist
there. The pod then gets volume paths only: nothing it reads points at this machine.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import JobError
from ..io import has_embeddings
from ..run_state import RunState
from .spec import CONFIG_DIR, JobSpec
from .volume_storage import Sink, Volume

log = logging.getLogger(__name__)

FILE_FIELDS = ("data", "resume_from", "init_from")


@dataclass
class Needed:
    """One file the pod reads: its job field, and either a local file to send or a key already there."""

    field: str
    local: Path | None = None
    key: str | None = None


def embedded_twin(data: Path) -> Path:
    """The split a plain one becomes once embedded (``x.pt`` -> ``x_embedded.pt``), when it is there and
    newer: sending it spares the pod the embedding step (and its text encoder)."""
    twin = data.with_name(f"{data.stem}_embedded{data.suffix}")
    if twin.is_file() and twin.stat().st_mtime >= data.stat().st_mtime and data.is_file():
        if not has_embeddings(data):
            return twin
    return data


def shipped_config(spec: JobSpec) -> str | None:
    """The config's name when it is a bare name the training image ships (configs/ of this package)."""
    if Path(spec.config).suffix or "/" in spec.config:
        return None
    path = spec.config_path().resolve()
    return path.stem if path.parent == CONFIG_DIR.resolve() else None


def needed(spec: JobSpec, volume: Volume) -> list[Needed]:
    """Every file of ``spec`` the pod reads (the config only when it is not shipped); JobError naming a
    field whose file is neither on this machine nor a path on the volume."""
    out = []
    for field in FILE_FIELDS:
        value = getattr(spec, field)
        if not value:
            continue
        key = volume.key_of(value)
        if key is not None:
            out.append(Needed(field, key=key))
        elif Path(value).is_file():
            local = Path(value).resolve()
            out.append(Needed(field, local=embedded_twin(local) if field == "data" else local))
        else:
            raise JobError(f"job.{field}: no such file {value!r} on this machine, and it is not a path on the "
                           f"network volume ({volume.mount_path}/...)")
    if shipped_config(spec) is None:
        out.append(Needed("config", local=spec.config_path().resolve()))
    return out


def check(spec: JobSpec, settings: dict[str, Any]) -> Volume:
    """Preflight: the volume is named and reachable, and every path on it that the job names exists."""
    volume = Volume.from_settings(settings)
    volume.client()  # no S3 keys is said now, before a run folder exists (uploads and fetches need them)
    for item in needed(spec, volume):
        if item.key is not None and volume.head(item.key) is None:
            raise JobError(f"job.{item.field}: {volume.path_of(item.key)} is not on network volume "
                           f"{volume.volume_id} (nothing at {item.key})")
    return volume


def deliver(spec: JobSpec, settings: dict[str, Any], sink: Sink | None = None) -> dict[str, str]:
    """Upload what the pod needs; the job fields it gets instead (``{"data": "/runpod-volume/...", ...}``)."""
    volume = check(spec, settings)
    paths: dict[str, str] = {}
    for item in needed(spec, volume):
        if item.key is not None:
            continue
        if item.field == "config":
            paths["config"] = _upload_config(spec, volume, sink)
        else:
            assert item.local is not None
            paths[item.field] = volume.upload(item.local, sink=sink)
    if "config" not in paths:
        paths["config"] = shipped_config(spec) or spec.config
    return paths


def _upload_config(spec: JobSpec, volume: Volume, sink: Sink | None) -> str:
    """The config flattened (``extends:`` resolved, no job overrides): the pod may not have its parents."""
    from ..config import load_config

    text = yaml.safe_dump(load_config(spec.config_path()).to_dict(), sort_keys=False)
    with tempfile.TemporaryDirectory(prefix="stickgen-config-") as tmp:
        flat = Path(tmp) / f"{spec.config_path().stem}.yaml"
        flat.write_text(text, encoding="utf-8")
        return volume.upload(flat, sink=sink)


def run_sink(run: Any, every_s: float = 1.0) -> Sink:
    """Upload progress into the run's status (``upload``: file bytes, rate, ETA) at most every ``every_s``,
    and a bar on a terminal: the runs list and the CLI show what a launch is waiting for."""
    import sys
    import time

    bar: dict[str, Any] = {"last": 0.0, "tqdm": None}

    def sink(done: int, total: int, rate: float, eta: float | None) -> None:
        if sys.stderr.isatty():
            from tqdm import tqdm

            if bar["tqdm"] is None or bar["tqdm"].total != total:
                bar["tqdm"] = tqdm(total=total, unit="B", unit_scale=True, desc="upload to the volume", leave=False)
            bar["tqdm"].update(done - bar["tqdm"].n)
        now = time.monotonic()
        if now - bar["last"] >= every_s or done >= total:
            bar["last"] = now
            run.set_status(RunState.QUEUED, phase="uploading", upload={"done": done, "total": total, "rate": round(rate),
                                                                "eta_s": None if eta is None else round(eta, 1)})
    return sink


def deliver_run(run: Any, settings: dict[str, Any]) -> dict[str, str]:
    """``deliver`` for a run about to get a pod: status 'uploading' meanwhile, the volume paths kept in
    job_state.json (``volume_inputs``, which pod_env applies), 'failed' with the reason if it cannot."""
    run.set_status(RunState.QUEUED, phase="uploading", error=None, log_tail=None, upload=None)
    try:
        paths = deliver(run.spec, settings, sink=run_sink(run))
    except JobError as exc:
        run.set_status(RunState.FAILED, phase=None, error=str(exc), upload=None)
        raise
    run.update_job_state(volume_inputs=paths)
    run.set_status(RunState.QUEUED, phase="provisioning", upload=None)
    return paths
