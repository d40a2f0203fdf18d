"""The ``stickgen jobs launch ...`` command line that launches a given JobSpec (for "copy as CLI")."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..errors import JobError
from .spec import JobSpec

_LOCAL_FLAGS = {"nice": "--nice", "max_parallel": "--max-parallel"}
_SKYPILOT_FLAGS = {"accelerator": "--accelerator", "num_nodes": "--num-nodes", "cloud": "--cloud", "region": "--region",
                   "bucket": "--bucket", "image": "--image"}
_RUNPOD_FLAGS = {"image": "--image", "cloud_type": "--cloud-type", "network_volume_id": "--network-volume-id",
                 "data_center_id": "--data-center-id", "container_disk_gb": "--container-disk-gb",
                 "bid_per_gpu": "--bid-per-gpu", "interruption_retries": "--interruption-retries", "pod_end": "--pod-end",
                 "linger_s": "--linger"}


def launch_argv(spec: JobSpec, workspace: str | Path) -> list[str]:
    """argv of the CLI call that launches exactly ``spec`` in ``workspace``.

    JobError names what the CLI cannot express (arbitrary config ``overrides``, a setting it has no
    flag for): the command is exact or not given at all.
    """
    if spec.overrides:
        raise JobError(f"job.overrides: the CLI has no flag for {sorted(spec.overrides)}; put them in a config file")
    argv = ["stickgen", "jobs", "launch", "--workspace", str(workspace), "--config", spec.config,
            "--data_path", spec.data, "--stage", spec.stage]
    if spec.run_name:
        argv += ["--run-name", spec.run_name]
    if spec.gpu_count != 1:
        argv += ["--gpu-count", str(spec.gpu_count)]
    for name in ("resume_from", "init_from", "epochs", "batch_size", "learning_rate"):
        value = getattr(spec, name)
        if value is not None and value != "":
            argv += [f"--{name}", str(value)]
    for key, value in spec.loss_weights.items():
        argv += ["--loss-weight", f"{key}={value}"]
    if spec.lora is not None:
        argv += ["--lora"] if spec.lora.enabled else ["--no-lora"]
    if spec.lora is not None and spec.lora.enabled:
        for name in ("rank", "alpha", "dropout"):
            value = getattr(spec.lora, name)
            if value is not None:
                argv += [f"--lora-{name}", str(value)]
        if spec.lora.target_modules:
            argv += ["--lora-target-modules", *spec.lora.target_modules]
    argv += ["--backend", spec.backend]
    flags = {"local": _LOCAL_FLAGS, "skypilot": _SKYPILOT_FLAGS}.get(spec.backend, _RUNPOD_FLAGS)
    for key, value in spec.backend_settings.items():
        if key == "gpu_types" and spec.backend == "runpod":
            for gpu in value:
                argv += ["--gpu-type", str(gpu)]
        elif key == "allowed_cuda_versions" and spec.backend == "runpod":
            for version in value:
                argv += ["--allowed-cuda-version", str(version)]
        elif key == "interruptible" and spec.backend == "runpod":
            argv += ["--interruptible"] if value else []
        elif key == "use_spot" and spec.backend == "skypilot":
            argv += ["--use-spot"] if value else []
        elif key in flags:
            if value is not None and not (key == "nice" and value == 10):
                argv += [flags[key], str(value)]
        else:
            raise JobError(f"job.backend_settings.{key}: the CLI has no flag for it")
    return argv


def launch_command(spec: JobSpec, workspace: str | Path) -> str:
    """``launch_argv`` as one shell line, quoted for a POSIX shell."""
    return shlex.join(launch_argv(spec, workspace))
