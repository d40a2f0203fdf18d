"""The RunPod API as the jobs layer uses it: the ``runpod`` SDK, plus our own GraphQL where it falls short.

The SDK's ``get_pod`` selects ~25 fields, ``env`` among them (which holds the agent token) and not
``runtime.uptimeInSeconds`` (which restart detection reads); ``POD_QUERY`` asks for exactly what
is read. The SDK (1.12) has no spot pods; ``create_spot_pod`` sends ``podRentInterruptable``.
The key comes from ``RUNPOD_API_KEY`` (on a pod RunPod injects a key scoped to that pod) or the
SDK's ``~/.runpod/config.toml``; it only ever reaches the SDK, never a message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from typing import Any, Iterator

from ..errors import RunPodError

log = logging.getLogger(__name__)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_sdk_lock = threading.Lock()
POD_ENDS = ("terminate", "stop")

# what check_pod, the billing column and the readiness wait read; nothing else (never env)
POD_QUERY = """query Pod {{ pod(input: {{podId: "{pod_id}"}}) {{
  id desiredStatus costPerHr
  runtime {{ uptimeInSeconds ports {{ ip isIpPublic privatePort publicPort type }} }}
}} }}"""


def gql_string(value: Any, field: str) -> str:
    """``value`` escaped for the inside of a GraphQL string literal (the SDK pastes strings unescaped).

    GraphQL's string escapes are JSON's, so quotes, backslashes, newlines and control characters
    arrive as written and can never end the literal early.
    """
    if not isinstance(value, str):
        raise RunPodError(f"{field}: expected a string, got {type(value).__name__}")
    return json.dumps(value, ensure_ascii=False)[1:-1]


def escape_env(env: dict[str, Any]) -> dict[str, str]:
    """Env names checked (letters, digits, '_'), values escaped for the SDK's mutation."""
    out = {}
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise RunPodError(f"env: {key!r} is not a valid variable name (letters, digits and '_', not first a digit)")
        out[key] = gql_string("" if value is None else str(value), f"env.{key}")
    return out


def api_key() -> str:
    """The RunPod API key: ``RUNPOD_API_KEY``, else the SDK's credentials file."""
    key = os.environ.get("RUNPOD_API_KEY", "").strip()
    if not key:
        try:
            import runpod

            key = (runpod.get_credentials() or {}).get("api_key", "") or ""
        except Exception:  # an unreadable credentials file is the same as none
            key = ""
    if not key:
        raise RunPodError("no RunPod API key: set RUNPOD_API_KEY or run `runpod config` (~/.runpod/config.toml)")
    return key


@contextlib.contextmanager
def sdk() -> Iterator[Any]:
    """The runpod module with the key set for this call only; its errors become clear RunPodErrors."""
    import requests
    import runpod
    from runpod import error as rp_error

    key = api_key()
    with _sdk_lock:
        old, runpod.api_key = runpod.api_key, key
        try:
            yield runpod
        except rp_error.AuthenticationError:
            raise RunPodError("RunPod refused the API key (unauthorised): check RUNPOD_API_KEY") from None
        except rp_error.QueryError as exc:
            raise RunPodError(f"RunPod API: {_scrub(str(exc), key)}") from None
        except requests.Timeout:
            raise RunPodError("RunPod API did not answer in time (timeout); try again") from None
        except requests.RequestException as exc:
            raise RunPodError(f"RunPod API is not reachable: {type(exc).__name__}") from None
        except (ValueError, KeyError, TypeError) as exc:  # the SDK's own checks; an answer of the wrong shape
            raise RunPodError(f"RunPod: {_scrub(str(exc), key)}") from None
        finally:
            runpod.api_key = old


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def graphql(query: str) -> dict[str, Any]:
    """The ``data`` of one GraphQL request of our own, sent through the SDK's transport."""
    with sdk() as rp:
        from runpod.api.graphql import run_graphql_query

        return run_graphql_query(query, api_key=rp.api_key)["data"]


def get_pod(pod_id: str) -> dict[str, Any] | None:
    """The pod's status, price and runtime (``POD_QUERY``); None when RunPod has no such pod."""
    return graphql(POD_QUERY.format(pod_id=gql_string(pod_id, "pod_id")))["pod"]


def gpu_price(gpu_type: str, cloud_type: str) -> float | None:
    """The on-demand $/h of one ``gpu_type`` in ``cloud_type`` (SECURE, COMMUNITY, ALL), if the API gives one."""
    with sdk() as rp:
        gpu = rp.get_gpu(gql_string(gpu_type, "gpu_types"))
    secure, community = gpu.get("securePrice"), gpu.get("communityPrice")
    lowest = (gpu.get("lowestPrice") or {}).get("uninterruptablePrice")
    price = {"SECURE": secure, "COMMUNITY": community}.get(cloud_type) or lowest or secure or community
    return float(price) if price else None


def run_status_on_volume(settings: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """The status of the run folder ``run_dir`` on the network volume, read through its S3 API (no pod
    needed): its trainer's status.json merged with job_state.json's view, as ``Run.raw_status`` does
    (whole seconds: the trainer's time is its ``updated``); {} when there is no volume or no record."""
    from .record import iso_time, merge_status

    trainer, jobs = (_json_on_volume(settings, f"{run_dir}/{name}") for name in ("status.json", "job_state.json"))
    view = jobs.get("status") if isinstance(jobs.get("status"), dict) else {}
    if isinstance(view.get("at"), (int, float)):
        view = {**view, "at": int(view["at"])}
    return merge_status(trainer, view, iso_time(trainer.get("updated")))


def _json_on_volume(settings: dict[str, Any], path: str) -> dict[str, Any]:
    """A JSON object file at ``path`` on the network volume, or {} when there is none to read."""
    try:
        from .volume_storage import Volume

        volume = Volume.from_settings(settings)
        body = volume.client().get_object(Bucket=volume.volume_id, Key=volume.key_of(path))["Body"].read(1 << 20)
        data = json.loads(body)
        return data if isinstance(data, dict) else {}
    except Exception as exc:  # noqa: BLE001 - nothing learnt; the caller decides what a lost pod means
        log.info("no run record on the volume at %s (%s)", path, type(exc).__name__)
        return {}


def end_pod(pod_id: str, how: str = "terminate") -> None:
    """Stop (the volume disk is kept and billed) or terminate (removed) a pod; a pod already gone is fine."""
    if how not in POD_ENDS:
        raise RunPodError(f"pod_end: expected one of {POD_ENDS}, got {how!r}")
    try:
        with sdk() as rp:
            (rp.terminate_pod if how == "terminate" else rp.stop_pod)(gql_string(pod_id, "pod_id"))
    except RunPodError as exc:
        if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
            return
        raise


SPOT_MUTATION = """mutation {{ podRentInterruptable(input: {{ {fields} }}) {{ id desiredStatus costPerHr }} }}"""


def create_spot_pod(bid_per_gpu: float, **kw: Any) -> dict[str, Any]:
    """An interruptible pod at ``bid_per_gpu`` $/h per GPU: the SDK's create_pod arguments, same escaping rules
    (strings already escaped with ``gql_string``, env values with ``escape_env``)."""
    fields = [f"bidPerGpu: {float(bid_per_gpu)}", f'name: "{kw["name"]}"', f'imageName: "{kw["image_name"]}"',
              f'gpuTypeId: "{kw["gpu_type_id"]}"', f'cloudType: {kw.get("cloud_type", "SECURE")}',
              f'gpuCount: {int(kw.get("gpu_count", 1))}', f'volumeInGb: {int(kw.get("volume_in_gb", 0))}',
              f'containerDiskInGb: {int(kw.get("container_disk_in_gb", 30))}', "startSsh: false",
              f'ports: "{kw.get("ports", "")}"', f'volumeMountPath: "{kw.get("volume_mount_path", "/runpod-volume")}"',
              "env: [" + ", ".join(f'{{ key: "{k}", value: "{v}" }}' for k, v in (kw.get("env") or {}).items()) + "]"]
    for key, name in (("network_volume_id", "networkVolumeId"), ("data_center_id", "dataCenterId")):
        if kw.get(key):
            fields.append(f'{name}: "{kw[key]}"')
    if kw.get("allowed_cuda_versions"):  # already escaped, as the SDK's create_pod takes them
        fields.append("allowedCudaVersions: [" + ", ".join(f'"{v}"' for v in kw["allowed_cuda_versions"]) + "]")
    return graphql(SPOT_MUTATION.format(fields=", ".join(fields)))["podRentInterruptable"]
