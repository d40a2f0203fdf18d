"""The RunPod backend's settings (``job.backend_settings``): defaults and the checks a launch needs first."""

from __future__ import annotations

import re
from typing import Any

from ..errors import RunPodError
from .runpod_api import POD_ENDS
from .volume_storage import SETTINGS as VOLUME_SETTINGS

# the preference order when a GPU type has no free instance (settings "gpu_types" replaces it)
DEFAULT_GPU_TYPES = ["NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3",
                     "NVIDIA RTX A6000", "NVIDIA GeForce RTX 4090"]
DEFAULTS: dict[str, Any] = {
    "image": "stickgen/stickgen-train:latest", "gpu_types": DEFAULT_GPU_TYPES, "cloud_type": "SECURE",
    "container_disk_gb": 30, "volume_gb": 0, "network_volume_id": None, "data_center_id": None,
    "volume_path": "/runpod-volume", "agent_port": 8765, "ready_timeout_s": 900.0, "poll_s": 10.0,
    "restart_limit": 2, "agent_url_template": "https://{pod_id}-{port}.proxy.runpod.net",
    "pod_end": "terminate", "linger_s": 300.0, "interruptible": False, "bid_per_gpu": None,
    "interruption_retries": 3,
    **VOLUME_SETTINGS,  # s3_endpoint_url, s3_profile: the network volume's S3 API (volume_storage)
    # hosts whose driver runs the image's CUDA 12.4 (torch 2.5.1 in resources/docker/Dockerfile); an older
    # driver would leave torch without a GPU. Change it with the image.
    "allowed_cuda_versions": ["12.4", "12.5", "12.6", "12.7", "12.8"],
}
MAX_GPUS_PER_POD = 8
_CUDA_VERSION = re.compile(r"^\d{1,2}\.\d{1,2}$")


def validated(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults with ``settings`` over them; RunPodError naming the first unknown or bad setting."""
    unknown = sorted(set(settings or {}) - set(DEFAULTS))
    if unknown:
        raise RunPodError(f"job.backend_settings: unknown RunPod setting(s) {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **(settings or {})}
    if s["pod_end"] not in POD_ENDS:
        raise RunPodError(f"job.backend_settings.pod_end: expected one of {POD_ENDS}, got {s['pod_end']!r}")
    if s["interruptible"] and not (isinstance(s["bid_per_gpu"], (int, float)) and s["bid_per_gpu"] > 0):
        raise RunPodError("job.backend_settings.bid_per_gpu: an interruptible (spot) pod needs a bid in $/h per "
                          f"GPU > 0, got {s['bid_per_gpu']!r}")
    cuda = s["allowed_cuda_versions"]
    if not (isinstance(cuda, list) and cuda and all(isinstance(v, str) and _CUDA_VERSION.match(v) for v in cuda)):
        raise RunPodError("job.backend_settings.allowed_cuda_versions: expected a non-empty list of CUDA versions "
                          f"like '12.4', got {cuda!r}")
    return s


def gpu_count(spec: Any) -> int:
    """The job's GPUs, all on one pod (RunPod offers at most ``MAX_GPUS_PER_POD``; more is SkyPilot's multi-node)."""
    if spec.gpu_count > MAX_GPUS_PER_POD:
        raise RunPodError(f"job.gpu_count: a RunPod pod has at most {MAX_GPUS_PER_POD} GPUs, got {spec.gpu_count}; "
                          "for more, use several nodes with --backend skypilot")
    return int(spec.gpu_count)
