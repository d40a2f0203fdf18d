"""RunPodBackend: a run on a RunPod GPU pod through the ``runpod`` SDK, read through the pod's agent.

The API key comes from ``RUNPOD_API_KEY`` or the SDK's ``~/.runpod/config.toml`` and is only ever
handed to the SDK: it is not written to run.json, logs, argv or error messages. The pod gets the
spec's variables (``TRAIN_DATA_PATH``, ``RESUME_FROM_CHECKPOINT``, ``INIT_FROM_CHECKPOINT``,
``MODEL_VARIANT``, ``USE_LORA``) plus the job and the agent's token; its entrypoint trains into
the network volume and serves ``stickgen agent`` on ``agent_port``, which this backend reads
through the pod's proxy URL so a remote run has live metrics like a local one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from ..errors import AgentError, RunPodError
from .agent_client import AgentClient
from .backends import Backend
from .delivery import deliver_run
from .run import TERMINAL, Run
from .volume_storage import SETTINGS as VOLUME_SETTINGS

log = logging.getLogger(__name__)

# the preference order when a GPU type has no free instance (settings "gpu_types" replaces it)
DEFAULT_GPU_TYPES = ["NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3",
                     "NVIDIA RTX A6000", "NVIDIA GeForce RTX 4090"]
DEFAULTS: dict[str, Any] = {
    "image": "stickgen/stickgen-train:latest", "gpu_types": DEFAULT_GPU_TYPES, "cloud_type": "SECURE",
    "container_disk_gb": 30, "volume_gb": 0, "network_volume_id": None, "data_center_id": None,
    "volume_path": "/runpod-volume", "agent_port": 8765, "ready_timeout_s": 900.0, "poll_s": 10.0,
    "restart_limit": 2, "agent_url_template": "https://{pod_id}-{port}.proxy.runpod.net",
    **VOLUME_SETTINGS,  # s3_endpoint_url, s3_profile: the network volume's S3 API (volume_storage)
}
NO_CAPACITY = "no longer any instances available"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_sdk_lock = threading.Lock()


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
        except ValueError as exc:  # the SDK's own input checks (unknown GPU, cloud type)
            raise RunPodError(f"RunPod: {_scrub(str(exc), key)}") from None
        finally:
            runpod.api_key = old


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


class RunPodBackend(Backend):
    name = "runpod"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        unknown = sorted(set(settings or {}) - set(DEFAULTS))
        if unknown:
            raise RunPodError(f"job.backend_settings: unknown RunPod setting(s) {unknown}; known: {sorted(DEFAULTS)}")
        self.s = {**DEFAULTS, **(settings or {})}

    # ------------------------------------------------------------------ launch
    def pod_env(self, run: Run, token: str) -> dict[str, str]:
        """The variables the pod's entrypoint reads (the spec's names plus the job and agent token)."""
        spec, state = run.spec, run.job_state()
        spec = spec.replace(**state.get("volume_inputs", {}))  # the job as the pod sees it: files on the volume
        vol = self.s["volume_path"]
        env = {"STICKGEN_RUN_ID": run.run_id, "STICKGEN_RUN_DIR": f"{vol}/runs/{run.run_id}",
               "STICKGEN_JOB": json.dumps(spec.to_dict()), "MODEL_VARIANT": spec.config,
               "TRAIN_DATA_PATH": spec.data, "USE_LORA": "true" if spec.lora and spec.lora.enabled else "false",
               "STICKGEN_AGENT_TOKEN": token, "STICKGEN_AGENT_PORT": str(self.s["agent_port"]),
               "STICKGEN_DATA_DIR": f"{vol}/data", "STICKGEN_ATTEMPT": str(state.get("attempt", 1))}
        resume = state.get("resume_from") or spec.resume_from
        if resume:
            env["RESUME_FROM_CHECKPOINT"] = resume
        elif spec.init_from:
            env["INIT_FROM_CHECKPOINT"] = spec.init_from
        return env

    def price_per_hour(self, gpu_type: str) -> float | None:
        """The API's on-demand price of one ``gpu_type`` in the configured cloud, if it gives one."""
        with sdk() as rp:
            gpu = rp.get_gpu(gql_string(gpu_type, "gpu_types"))
        secure, community = gpu.get("securePrice"), gpu.get("communityPrice")
        lowest = (gpu.get("lowestPrice") or {}).get("uninterruptablePrice")
        price = {"SECURE": secure, "COMMUNITY": community}.get(self.s["cloud_type"]) or lowest or secure or community
        return float(price) if price else None

    def start(self, run: Run) -> None:
        """Create the pod (next GPU type when one has no capacity); readiness is checked by refresh."""
        token = secrets.token_urlsafe(32)
        token_file = run.root / ".agent_token"
        token_file.touch(mode=0o600)
        token_file.write_text(token, encoding="utf-8")
        deliver_run(run, self.s)  # data, checkpoint and config onto the network volume first
        env = escape_env(self.pod_env(run, token))
        run.set_status("queued", phase="provisioning", error=None, log_tail=None)
        errors = []
        for gpu in self.s["gpu_types"]:
            try:
                price = self.price_per_hour(gpu)
                with sdk() as rp:
                    pod = rp.create_pod(
                        name=gql_string(f"stickgen-{run.run_id}", "run_name"), image_name=gql_string(self.s["image"], "image"),
                        gpu_type_id=gql_string(gpu, "gpu_types"), cloud_type=self.s["cloud_type"], gpu_count=1,
                        volume_in_gb=int(self.s["volume_gb"]), container_disk_in_gb=int(self.s["container_disk_gb"]),
                        ports=f"{int(self.s['agent_port'])}/http", volume_mount_path=gql_string(self.s["volume_path"], "volume_path"),
                        env=env, docker_args="", start_ssh=False,
                        network_volume_id=gql_string(self.s["network_volume_id"], "network_volume_id") if self.s["network_volume_id"] else None,
                        data_center_id=gql_string(self.s["data_center_id"], "data_center_id") if self.s["data_center_id"] else None)
            except RunPodError as exc:
                if NO_CAPACITY in str(exc).lower():
                    log.warning("no %s available; trying the next GPU type", gpu)
                    errors.append(gpu)
                    continue
                run.set_status("failed", phase=None, error=str(exc))
                raise
            pod_id = str(pod["id"])
            url = self.s["agent_url_template"].format(pod_id=pod_id, port=self.s["agent_port"])
            run.update_job_state(pod_id=pod_id, gpu_type=gpu, price_per_hour=price, agent_url=url,
                                 created_at=time.time(), last_uptime=None, restarts=0, last_pod_check=0.0,
                                 remote_metrics_offset=_local_lines(run), stop_requested=False,
                                 remote_run_dir=env["STICKGEN_RUN_DIR"])
            log.info("pod %s (%s, %s/h) created for run %s", pod_id, gpu, price, run.run_id)
            return
        msg = f"no RunPod GPU available: {', '.join(errors)} had no free instance; try later or another cloud type"
        run.set_status("failed", phase=None, error=msg)
        raise RunPodError(msg)

    # ------------------------------------------------------------------ watching
    def client(self, run: Run) -> AgentClient:
        state = run.job_state()
        token = (run.root / ".agent_token").read_text(encoding="utf-8").strip()
        return AgentClient(state["agent_url"], token)

    def check_pod(self, run: Run, force: bool = False) -> None:
        """Ask the API about the pod (at most every ``poll_s``): ready, restarting, gone or too slow."""
        state, status = run.job_state(), run.raw_status()
        if status.get("state") in TERMINAL or not state.get("pod_id"):
            return
        if not force and time.time() - float(state.get("last_pod_check", 0.0)) < float(self.s["poll_s"]):
            return
        with sdk() as rp:
            pod = rp.get_pod(gql_string(state["pod_id"], "pod_id"))
        fields: dict[str, Any] = {"last_pod_check": time.time()}
        if not pod:
            run.update_job_state(**fields)
            return run.set_status("failed", phase=None, error=f"pod {state['pod_id']} no longer exists")
        runtime = pod.get("runtime") or {}
        uptime = runtime.get("uptimeInSeconds", pod.get("uptimeSeconds"))
        last = state.get("last_uptime")
        if uptime is not None and last is not None and uptime < last:  # the container started again
            fields["restarts"] = int(state.get("restarts", 0)) + 1
        fields["last_uptime"] = uptime
        run.update_job_state(**fields)
        restarts = fields.get("restarts", state.get("restarts", 0))
        if restarts >= int(self.s["restart_limit"]):
            return run.set_status("failed", phase=None, error=(
                f"pod {state['pod_id']}: the container keeps restarting ({restarts} restarts); "
                "see the pod's logs on runpod.io (a bad image or entrypoint?)"))
        if pod.get("desiredStatus") in ("EXITED", "TERMINATED") and not state.get("stop_requested"):
            return run.set_status("failed", phase=None, error=f"pod {state['pod_id']} is {pod['desiredStatus']}")
        if status.get("phase") == "provisioning":
            if runtime.get("ports"):  # RUNNING alone is not enough: the ports appear when the container is up
                run.set_status("running", phase="starting", error=None)
            elif time.time() - float(state.get("created_at", time.time())) > float(self.s["ready_timeout_s"]):
                run.set_status("failed", phase=None, error=(
                    f"pod {state['pod_id']} was not ready after {self.s['ready_timeout_s']:.0f} s "
                    f"(status {pod.get('desiredStatus')}, no ports yet)"))

    def wait_ready(self, run: Run, timeout: float | None = None) -> dict[str, Any]:
        """Block until the pod is up (its ports are set); RunPodError with the reason when it fails."""
        deadline = time.monotonic() + float(timeout if timeout is not None else self.s["ready_timeout_s"])
        while True:
            self.check_pod(run, force=True)
            status = run.raw_status()
            if status.get("state") == "failed":
                raise RunPodError(status.get("error") or f"pod {run.job_state().get('pod_id')} failed")
            if status.get("phase") != "provisioning" or status.get("state") in TERMINAL:
                return status
            if time.monotonic() > deadline:
                msg = f"pod {run.job_state().get('pod_id')} was not ready after {timeout} s (no ports yet)"
                run.set_status("failed", phase=None, error=msg)
                raise RunPodError(msg)
            time.sleep(min(float(self.s["poll_s"]), 5.0))

    def refresh(self, run: Run) -> None:
        self.check_pod(run)
        status = run.raw_status()
        if status.get("state") in TERMINAL or status.get("phase") == "provisioning":
            return
        try:
            remote = self.client(run).status()
        except AgentError as exc:  # the agent may still be starting; keep the last known status
            run.update_job_state(agent_error=str(exc))
            return
        remote_status = remote.get("status") or {}
        if remote_status.get("state"):
            run.set_status(remote_status["state"], **{k: v for k, v in remote_status.items() if k not in ("state",)})
        ckpt_dir = run.job_state().get("remote_run_dir", "") + "/checkpoints"
        names = remote.get("checkpoints", [])
        run.update_job_state(agent_error=None,
                             remote_latest=f"{ckpt_dir}/model_checkpoint_latest.pth" if "model_checkpoint_latest.pth" in names else None,
                             remote_best=f"{ckpt_dir}/model_checkpoint_best.pth" if "model_checkpoint_best.pth" in names else None)

    def _agent_up(self, run: Run) -> bool:
        """Whether the pod's agent can be asked (the pod has its ports); checks the pod when unsure."""
        if not run.job_state().get("agent_url"):
            return False
        if run.raw_status().get("phase") == "provisioning":
            self.check_pod(run)
        return run.raw_status().get("phase") != "provisioning"

    def sync_metrics(self, run: Run) -> None:
        state = run.job_state()
        if not self._agent_up(run):
            return
        try:
            rows, nxt = self.client(run).metrics(int(state.get("remote_metrics_offset", 0)))
        except AgentError:
            return
        if rows:
            with open(run.root / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)
        run.update_job_state(remote_metrics_offset=nxt)

    def sync_log(self, run: Run) -> None:
        if not self._agent_up(run):
            return
        try:
            lines = self.client(run).log(200)
        except AgentError:
            return
        (run.root / "train.log").write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def fetch_checkpoint(self, run: Run, which: str = "best") -> Path:
        """Copy the pod's best or latest checkpoint into the local run folder (SHA-256 checked)."""
        name = f"model_checkpoint_{which}.pth"
        dest = run.root / "checkpoints" / name
        self.client(run).download(name, dest)
        return dest

    # ------------------------------------------------------------------ control
    def stop(self, run: Run, wait: bool, timeout: float) -> None:
        """Ask the agent to stop training (latest checkpoint saved on the volume), then stop the pod."""
        run.update_job_state(stop_requested=True)
        if run.raw_status().get("phase") != "provisioning":
            try:
                self.client(run).stop()
                deadline = time.monotonic() + timeout
                while wait and time.monotonic() < deadline:
                    self.refresh(run)
                    if run.raw_status().get("state") in TERMINAL:
                        break
                    time.sleep(1.0)
            except AgentError as exc:
                log.warning("could not ask the agent to stop: %s", exc)
        self.stop_pod(run)
        if run.raw_status().get("state") not in TERMINAL:
            run.set_status("stopped", phase=None)

    def stop_pod(self, run: Run) -> None:
        pod_id = run.job_state().get("pod_id")
        if pod_id:
            with sdk() as rp:
                rp.stop_pod(gql_string(pod_id, "pod_id"))

    def terminate(self, run: Run) -> None:
        """Remove the pod (the network volume and what the run wrote there stay)."""
        pod_id = run.job_state().get("pod_id")
        if pod_id:
            with sdk() as rp:
                rp.terminate_pod(gql_string(pod_id, "pod_id"))
            run.update_job_state(terminated=True)


def _local_lines(run: Run) -> int:
    path = run.root / "metrics.jsonl"
    return sum(1 for _ in open(path, "rb")) if path.is_file() else 0
