"""SkyPilot: a JobSpec as a SkyPilot task (multi-node, spot across clouds), launched with ``sky jobs launch``.

For users who outgrow one RunPod pod. The task trains with ``torchrun`` over ``$SKYPILOT_NODE_IPS``
(``num_nodes`` machines x ``gpu_count`` GPUs each, one process per GPU); only global rank 0 writes
the run folder. The training data, a custom init/resume checkpoint and the resolved config travel
with the task (file mounts, an env var); checkpoints go to ``bucket`` (an S3/GCS/R2 URI mounted on
every node) so a managed job recovered on a new spot cluster resumes from its latest checkpoint.

SkyPilot is optional (``pip install 'stickgen-studio[skypilot]'``, or any ``sky`` on PATH): writing a
task needs nothing from it; launching runs the ``sky`` command. Nothing here calls a cloud itself.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from ..errors import JobError
from ..io import has_embeddings
from ..run_state import TERMINAL, RunState
from .backends import Backend
from .run_record import RunRecord
from .spec import JobSpec

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "accelerator": "A100",      # SkyPilot's accelerator name; the task asks for accelerator:gpu_count per node
    "num_nodes": 1,
    "cloud": None, "region": None,   # None: SkyPilot picks the cheapest enabled cloud/region
    "use_spot": False,
    "image": None,              # a Docker image with the project (resources/docker/Dockerfile); None: pip-install the checkout
    "bucket": None,             # s3://... gs://... r2://...: where the run folder lives (required to launch)
    "disk_size_gb": 100,
    "max_restarts_on_errors": 0,  # managed jobs: restarts after a user-code failure (preemptions always recover)
    "poll_s": 60.0,             # how often `jobs list` / the studio ask SkyPilot about a managed job
}
# SkyPilot's ManagedJobStatus names -> our run states (CANCELLING is still running until it ends)
STATES = {"PENDING": RunState.QUEUED, "SUBMITTED": RunState.QUEUED, "STARTING": RunState.QUEUED,
          "RUNNING": RunState.RUNNING, "RECOVERING": RunState.RUNNING, "CANCELLING": RunState.RUNNING,
          "SUCCEEDED": RunState.COMPLETED, "CANCELLED": RunState.STOPPED}
REMOTE = "/stickgen"            # where data, checkpoints to start from and runs live on every node
MASTER_PORT = 29500
_ACCEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_BUCKET = re.compile(r"^(s3|gs|r2|cos|oci)://[a-z0-9][a-z0-9._/-]{1,200}$")
_PROJECT = Path(__file__).resolve().parents[2]  # a source checkout: pyproject.toml sits here


def check_settings(given: dict[str, Any] | None) -> dict[str, Any]:
    """A job's SkyPilot settings over DEFAULTS; JobError naming the first bad one."""
    given = given or {}
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise JobError(f"job.backend_settings: unknown SkyPilot setting(s) {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **given}
    if not isinstance(s["accelerator"], str) or not _ACCEL.match(s["accelerator"]):
        raise JobError(f"job.backend_settings.accelerator: expected a SkyPilot accelerator name like A100, "
                       f"got {s['accelerator']!r}")
    if not isinstance(s["poll_s"], (int, float)) or isinstance(s["poll_s"], bool) or s["poll_s"] < 0:
        raise JobError(f"job.backend_settings.poll_s: expected seconds >= 0, got {s['poll_s']!r}")
    for key, low in (("num_nodes", 1), ("disk_size_gb", 1), ("max_restarts_on_errors", 0)):
        if not isinstance(s[key], int) or isinstance(s[key], bool) or s[key] < low:
            raise JobError(f"job.backend_settings.{key}: expected a whole number of at least {low}, got {s[key]!r}")
    if s["bucket"] is not None and not (isinstance(s["bucket"], str) and _BUCKET.match(s["bucket"])):
        raise JobError(f"job.backend_settings.bucket: expected a bucket URI like s3://my-bucket/stickgen, got {s['bucket']!r}")
    return s


def _mount(local: str, folder: str) -> tuple[str, str]:
    """(remote path, absolute local path) of a local file the nodes need."""
    path = Path(local).expanduser().resolve()
    if not path.is_file():
        raise JobError(f"no such file {local!r} (SkyPilot copies it to every node)")
    if not _FILE_NAME.match(path.name):  # it lands in a shell line on the nodes
        raise JobError(f"{local!r}: SkyPilot file names here are letters, digits, '.', '_' and '-'; rename it")
    return f"{REMOTE}/{folder}/{path.name}", str(path)


def task_config(spec: JobSpec, run_id: str) -> dict[str, Any]:
    """The SkyPilot task (the dict of its YAML) that trains ``spec`` as run ``run_id``."""
    spec.validate()
    s = check_settings(spec.backend_settings)
    mounts: dict[str, Any] = {}
    data_remote, data_local = _mount(spec.data, "data")
    mounts[data_remote] = data_local
    # the bucket when there is one (every node sees it; it outlives the cluster), else node 0's home
    run_dir = f"{REMOTE}/runs/{run_id}" if s["bucket"] else f"$HOME/stickgen-runs/{run_id}"
    config = spec.resolved_config()
    config["training"]["device"] = "cuda"  # a node without a usable GPU fails loudly, not trains on its CPU
    train = ["--config", f'"{run_dir}/config.yaml"', "--run-dir", f'"{run_dir}"']
    start = ""
    if spec.resume_from or spec.init_from:
        flag = "--resume_from" if spec.resume_from else "--init_from"
        remote, local = _mount(spec.resume_from or spec.init_from, "start")
        mounts[remote] = local
        start = f"{flag} {shlex.quote(remote)}"
    if s["bucket"]:
        mounts[f"{REMOTE}/runs"] = {"source": s["bucket"], "mode": "MOUNT"}
    embed = ""
    data = data_remote
    if not has_embeddings(data_local):  # every node embeds the same split (deterministic), each to its own disk
        data = f"$HOME/stickgen-data/{Path(data_local).stem}_embedded.pt"
        embed = (f'mkdir -p "$HOME/stickgen-data"\n[ -f "{data}" ] || stickgen embed --input {shlex.quote(data_remote)} '
                 f'--output "{data}" --config "{run_dir}/config.yaml"\n')
    torchrun = ("torchrun --nnodes $SKYPILOT_NUM_NODES --node_rank $SKYPILOT_NODE_RANK "
                f'--master_addr $(echo "$SKYPILOT_NODE_IPS" | head -n1) --master_port {MASTER_PORT} '
                "--nproc_per_node $SKYPILOT_NUM_GPUS_PER_NODE -m stickgen_core.train")
    run = (
        "set -euo pipefail\n"
        f'mkdir -p "{run_dir}/checkpoints"\n'
        f'printf \'%s\' "$STICKGEN_CONFIG" > "{run_dir}/config.yaml"  # JSON is YAML\n'
        + embed +
        # a recovered (preempted) job finds its latest checkpoint in the bucket and goes on from it
        f'START={shlex.quote(start)}\n'
        f'if [ -f "{run_dir}/checkpoints/model_checkpoint_latest.pth" ]; then '
        f'START="--resume_from {run_dir}/checkpoints/model_checkpoint_latest.pth"; fi\n'
        f'{torchrun} {" ".join(train)} --data_path "{data}" $START\n')
    resources: dict[str, Any] = {"accelerators": f"{s['accelerator']}:{spec.gpu_count}", "use_spot": bool(s["use_spot"]),
                                 "disk_size": s["disk_size_gb"],
                                 "job_recovery": {"max_restarts_on_errors": s["max_restarts_on_errors"]}}
    for key in ("cloud", "region"):
        if s[key]:
            resources[key] = str(s[key])
    task: dict[str, Any] = {"name": f"stickgen-{run_id}"[:63].lower().replace("_", "-").replace(".", "-"),
                            "num_nodes": s["num_nodes"], "resources": resources,
                            "envs": {"STICKGEN_CONFIG": json.dumps(config, separators=(",", ":")),
                                     "STICKGEN_RUN_ID": run_id, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
                            "file_mounts": mounts, "run": run}
    if s["image"]:
        resources["image_id"] = f"docker:{s['image']}"
    elif (_PROJECT / "pyproject.toml").is_file():  # the core install path, pinned like the image
        task["workdir"] = str(_PROJECT)
        task["setup"] = ("set -e\npip install --quiet -c resources/docker/constraints.txt .\n")
    else:
        raise JobError("job.backend_settings.image: not a source checkout, so the nodes need the training image "
                       "(resources/docker/Dockerfile): set image")
    return task


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the run and setup scripts) as literal blocks a person can read."""


_Dumper.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def task_yaml(spec: JobSpec, run_id: str) -> str:
    return yaml.dump(task_config(spec, run_id), Dumper=_Dumper, sort_keys=False, width=1000)


def export_task(spec: JobSpec, run_id: str, path: str | Path) -> Path:
    """Write the task YAML to ``path`` (atomically); returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(task_yaml(spec, run_id), encoding="utf-8")
    tmp.replace(path)
    return path


def sky_command() -> str:
    """The ``sky`` executable, or a JobError that says how to get it."""
    sky = shutil.which("sky")
    if not sky:
        raise JobError("--backend skypilot: the `sky` command is not installed; `pip install 'stickgen-studio[skypilot]'` "
                       "(or `pipx install skypilot`), run `sky check`, or write the task with --export-skypilot")
    return sky


def managed_job_records() -> list[dict[str, Any]] | None:
    """SkyPilot's managed-job records (its Python SDK), or None when SkyPilot is not importable here."""
    try:
        import sky
        from sky import jobs as sky_jobs
    except ImportError:
        return None
    return sky.get(sky_jobs.queue(refresh=False))


def launch_check(settings: dict[str, Any] | None) -> dict[str, Any]:
    """What launching needs beyond a valid task: a bucket for the checkpoints and the ``sky`` command."""
    s = check_settings(settings)
    if not s["bucket"]:
        raise JobError("job.backend_settings.bucket: a managed job's cluster is torn down when it ends, so its "
                       "checkpoints need a bucket (e.g. s3://my-bucket/stickgen); or use --export-skypilot")
    sky_command()
    return s


class SkyPilotBackend(Backend):
    """Submits the task as a SkyPilot managed job; SkyPilot watches, recovers and tears it down."""

    name = "skypilot"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.s = check_settings(settings)

    def start(self, run: RunRecord) -> None:
        launch_check(self.s)
        sky = sky_command()
        task = export_task(run.spec, run.run_id, run.root / "skypilot.yaml")
        name = yaml.safe_load(task.read_text(encoding="utf-8"))["name"]
        argv = [sky, "jobs", "launch", "--yes", "--detach-run", "--name", name, str(task)]
        with open(run.root / "sky.log", "ab") as out:
            code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if code != 0:
            msg = f"`sky jobs launch` exited with code {code}; see {run.root / 'sky.log'}"
            run.set_status(RunState.FAILED, phase=None, error=msg)
            raise JobError(msg)
        run.update_job_state(sky_job_name=name, bucket_run_dir=f"{self.s['bucket'].rstrip('/')}/{run.run_id}")
        run.set_status(RunState.RUNNING, phase="submitted to SkyPilot (watch: sky jobs logs -n " + name + ")", error=None)

    def refresh(self, run: RunRecord) -> None:
        """Follow the managed job's state (at most every ``poll_s``); SkyPilot not answering changes nothing."""
        state, name = run.job_state(), run.job_state().get("sky_job_name")
        if not name or run.raw_status().get("state") in TERMINAL:
            return
        if time.time() - float(state.get("sky_checked_at", 0.0)) < float(self.s["poll_s"]):
            return
        run.update_job_state(sky_checked_at=time.time())
        try:
            records = managed_job_records()
        except Exception as exc:  # noqa: BLE001 - an unreachable controller or API server: ask again later
            run.update_job_state(sky_error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        mine = [r for r in records or [] if r.get("job_name") == name]
        if not mine:
            return
        record = max(mine, key=lambda r: r.get("job_id") or 0)  # a relaunch under the same name: the newest
        status = getattr(record.get("status"), "name", str(record.get("status")))
        ours = STATES.get(status, RunState.FAILED if status.startswith("FAILED") else None)
        if ours is None:
            return
        recoveries = int(record.get("recovery_count") or 0)
        run.update_job_state(sky_error=None, sky_status=status, sky_recoveries=recoveries)
        error = f"SkyPilot: {status} (see `sky jobs logs -n {name}`)" if ours == RunState.FAILED else None
        run.set_status(ours, phase=None if ours in TERMINAL else f"SkyPilot {status}, {recoveries} recoveries",
                       error=error)

    def stop(self, run: RunRecord, wait: bool, timeout: float) -> None:
        """Cancel the managed job (SkyPilot tears its cluster down); the bucket keeps the checkpoints."""
        name = run.job_state().get("sky_job_name")
        if name:
            subprocess.run([sky_command(), "jobs", "cancel", "--yes", "--name", name], check=False,
                           capture_output=True, timeout=max(timeout, 30.0))
        run.set_status(RunState.STOPPED, phase=None)

    def terminate(self, run: RunRecord) -> None:
        self.stop(run, wait=False, timeout=60.0)
