"""RunPodBackend: a run on a RunPod GPU pod through the ``runpod`` SDK, read through the pod's agent.

The API key comes from ``RUNPOD_API_KEY`` or the SDK's ``~/.runpod/config.toml`` and is only ever
handed to the SDK (``runpod_api``): it is not written to run.json, logs, argv or error messages. The
pod gets the spec's variables (``TRAIN_DATA_PATH``, ``RESUME_FROM_CHECKPOINT``, ``INIT_FROM_CHECKPOINT``,
``MODEL_VARIANT``, ``USE_LORA``) plus the job and the agent's token; its entrypoint trains into the
network volume and serves ``stickgen agent`` on ``agent_port``, which this backend reads through the
pod's proxy URL so a remote run has live metrics like a local one.

A pod's life ends by design: after training the entrypoint lingers ``linger_s`` then removes its own
pod (``pod_end``: terminate or stop); this side ends it on a readiness timeout, a restart loop, stop,
terminate, delete and resume. An interrupted spot pod (``interruptible``) is replaced by a new one
that resumes from the volume, up to ``interruption_retries`` times.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from ..errors import AgentError, RunPodError
from ..io import atomic_write_text
from ..system_metrics import SYSTEM_FILE
from ..run_state import TERMINAL, RunState
from .agent_client import AgentClient, agent_client_for
from .backends import Backend
from .delivery import deliver_run
from .fetch import fetch
from .run_record import RunRecord
from .runpod_api import (api_key, create_spot_pod, end_pod, escape_env, get_pod, gpu_price, gql_string,
                         run_status_on_volume, sdk)
from .runpod_settings import DEFAULTS, gpu_count, validated

__all__ = ["DEFAULTS", "RunPodBackend", "api_key", "escape_env", "gql_string", "sdk"]

log = logging.getLogger(__name__)

NO_CAPACITY = "no longer any instances available"
GONE = ("EXITED", "TERMINATED")


class RunPodBackend(Backend):
    name = "runpod"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.s = validated(settings)

    # ------------------------------------------------------------------ launch
    def pod_env(self, run: RunRecord, token: str) -> dict[str, str]:
        """The variables the pod's entrypoint reads (the spec's names plus the job and agent token)."""
        spec, state = run.spec, run.job_state()
        spec = spec.replace(**state.get("volume_inputs", {}))  # the job as the pod sees it: files on the volume
        vol = self.s["volume_path"]
        env = {"STICKGEN_RUN_ID": run.run_id, "STICKGEN_RUN_DIR": f"{vol}/runs/{run.run_id}",
               "STICKGEN_JOB": json.dumps(spec.to_dict()), "MODEL_VARIANT": spec.config,
               "TRAIN_DATA_PATH": spec.data, "USE_LORA": "true" if spec.lora and spec.lora.enabled else "false",
               "STICKGEN_AGENT_TOKEN": token, "STICKGEN_AGENT_PORT": str(self.s["agent_port"]),
               "STICKGEN_DATA_DIR": f"{vol}/data", "STICKGEN_ATTEMPT": str(state.get("attempt", 1)),
               "STICKGEN_POD_END": self.s["pod_end"], "STICKGEN_DEVICE": "cuda", "AGENT_LINGER_SECONDS": str(float(self.s["linger_s"]))}
        resume = state.get("resume_from") or spec.resume_from
        if resume:
            env["RESUME_FROM_CHECKPOINT"] = resume
        elif spec.init_from:
            env["INIT_FROM_CHECKPOINT"] = spec.init_from
        return env

    def price_per_hour(self, gpu_type: str) -> float | None:
        """The API's price of one ``gpu_type`` in the configured cloud (the bid for a spot pod), if it gives one."""
        if self.s["interruptible"]:
            return float(self.s["bid_per_gpu"])
        return gpu_price(gpu_type, self.s["cloud_type"])

    def _create(self, run: RunRecord, gpu: str, env: dict[str, str]) -> dict[str, Any]:
        kw = dict(name=gql_string(f"stickgen-{run.run_id}", "run_name"), image_name=gql_string(self.s["image"], "image"),
                  gpu_type_id=gql_string(gpu, "gpu_types"), cloud_type=self.s["cloud_type"], gpu_count=gpu_count(run.spec),
                  allowed_cuda_versions=[gql_string(v, "allowed_cuda_versions") for v in self.s["allowed_cuda_versions"]],
                  volume_in_gb=int(self.s["volume_gb"]), container_disk_in_gb=int(self.s["container_disk_gb"]),
                  ports=f"{int(self.s['agent_port'])}/http", volume_mount_path=gql_string(self.s["volume_path"], "volume_path"),
                  env=env, network_volume_id=gql_string(self.s["network_volume_id"], "network_volume_id") if self.s["network_volume_id"] else None,
                  data_center_id=gql_string(self.s["data_center_id"], "data_center_id") if self.s["data_center_id"] else None)
        if self.s["interruptible"]:
            return create_spot_pod(float(self.s["bid_per_gpu"]), **kw)
        with sdk() as rp:
            return rp.create_pod(**kw, docker_args="", start_ssh=False)

    def start(self, run: RunRecord) -> None:
        """Create the pod (next GPU type when one has no capacity); readiness is checked by refresh."""
        run.update_job_state(stop_requested=False)  # a new attempt: an earlier stop is done with
        token = secrets.token_urlsafe(32)
        token_file = run.root / ".agent_token"
        token_file.touch(mode=0o600)
        token_file.write_text(token, encoding="utf-8")
        deliver_run(run, self.s)  # data, checkpoint and config onto the network volume first
        env = escape_env(self.pod_env(run, token))
        if self._stopped_before_a_pod(run):
            return
        run.set_status(RunState.QUEUED, phase="provisioning", error=None, log_tail=None)
        errors = []
        for gpu in self.s["gpu_types"]:
            if self._stopped_before_a_pod(run):
                return
            try:
                price = self.price_per_hour(gpu)
                price = None if price is None else price * run.spec.gpu_count  # the pod's, for all its GPUs
                pod = self._create(run, gpu, env)
            except RunPodError as exc:
                if NO_CAPACITY in str(exc).lower():
                    log.warning("no %s available; trying the next GPU type", gpu)
                    errors.append(gpu)
                    continue
                run.set_status(RunState.FAILED, phase=None, error=str(exc))
                raise
            pod_id = str(pod["id"])
            url = self.s["agent_url_template"].format(pod_id=pod_id, port=self.s["agent_port"])
            run.update_job_state(pod_id=pod_id, gpu_type=gpu, price_per_hour=price, agent_url=url,
                                 created_at=time.time(), last_uptime=None, restarts=0, last_pod_check=0.0,
                                 remote_metrics_offset=run.metric_lines(),
                                 remote_run_dir=env["STICKGEN_RUN_DIR"], pod_ended=False, terminated=False, unreachable=None,
                                 interruptible=bool(self.s["interruptible"]), remote_ended_at=None)
            log.info("pod %s (%s, %s/h) created for run %s", pod_id, gpu, price, run.run_id)
            if run.job_state().get("stop_requested"):  # stopped while the pod was being made: it must not bill
                self.end_pod(run, "terminate")
                run.set_status(RunState.STOPPED, phase=None, error=None)
            return
        msg = f"no RunPod GPU available: {', '.join(errors)} had no free instance; try later or another cloud type"
        run.set_status(RunState.FAILED, phase=None, error=msg)
        raise RunPodError(msg)

    @staticmethod
    def _stopped_before_a_pod(run: RunRecord) -> bool:
        """A stop asked for while the data uploaded (no pod yet): the run ends stopped and no pod is made."""
        stopped = bool(run.job_state().get("stop_requested"))
        if stopped:
            run.set_status(RunState.STOPPED, phase=None, error=None)
        return stopped

    # ------------------------------------------------------------------ the pod's end
    def end_pod(self, run: RunRecord, how: str | None = None) -> bool:
        """Stop or terminate the run's pod (``pod_end`` by default) unless it already ended; True when it is gone.

        A failure (API down) is logged and recorded, never raised: the run's own state still gets written.
        """
        state = run.job_state()
        pod_id = state.get("pod_id")
        if not pod_id or (state.get("pod_ended") and (how or self.s["pod_end"]) != "terminate") \
                or state.get("terminated"):
            return True
        how = how or self.s["pod_end"]
        try:
            end_pod(pod_id, how)
        except RunPodError as exc:
            log.warning("run %s: could not %s pod %s: %s", run.run_id, how, pod_id, exc)
            run.update_job_state(pod_end_error=str(exc))
            return False
        run.update_job_state(pod_ended=True, terminated=how == "terminate", pod_end_error=None, ended_pod_at=time.time())
        log.info("run %s: pod %s %s", run.run_id, pod_id, "terminated" if how == "terminate" else "stopped")
        return True

    def _fail(self, run: RunRecord, error: str) -> None:
        """The run failed on this side (timeout, restart loop, pod lost): record it, then end the pod."""
        run.set_status(RunState.FAILED, phase=None, error=error)
        self.end_pod(run, "terminate")

    def release(self, run: RunRecord, timeout: float = 0.0) -> None:
        """Before a delete or a resume: the old pod must not bill on."""
        if run.job_state().get("pod_id") and not self.end_pod(run, "terminate"):
            raise RunPodError(f"run {run.run_id}: could not terminate pod {run.job_state()['pod_id']} "
                              f"({run.job_state().get('pod_end_error')}); try `stickgen jobs terminate {run.run_id}`")

    def _interrupted(self, run: RunRecord, why: str) -> None:
        """A spot pod was taken back: a new pod resumes from the volume, up to ``interruption_retries``."""
        state = run.job_state()
        n = int(state.get("interruptions", 0)) + 1
        self.end_pod(run, "terminate")
        if n > int(self.s["interruption_retries"]):
            return run.set_status(RunState.FAILED, phase=None, error=f"{why}; interrupted {n} times "
                                  f"(interruption_retries {self.s['interruption_retries']})")
        log.warning("run %s: %s; new pod %d of %d", run.run_id, why, n, self.s["interruption_retries"])
        run.update_job_state(interruptions=n, attempt=int(state.get("attempt", 1)) + 1)
        self.start(run)

    # ------------------------------------------------------------------ watching
    def client(self, run: RunRecord) -> AgentClient:
        return agent_client_for(run)

    def check_pod(self, run: RunRecord, force: bool = False) -> None:
        """Ask the API about the pod (at most every ``poll_s``): ready, restarting, gone or too slow.
        RunPodError when the API cannot be asked."""
        state, status = run.job_state(), run.raw_status()
        if status.get("state") in TERMINAL or not state.get("pod_id") or state.get("pod_ended"):
            return
        if not force and time.time() - float(state.get("last_pod_check", 0.0)) < float(self.s["poll_s"]):
            return
        pod = get_pod(state["pod_id"])
        fields: dict[str, Any] = {"last_pod_check": time.time(), "unreachable": None}
        pod_id, spot = state["pod_id"], state.get("interruptible")
        if not pod:
            run.update_job_state(**fields, pod_ended=True, terminated=True)
            final = run_status_on_volume(self.s, state.get("remote_run_dir", ""))
            if final.get("state") in TERMINAL:  # it finished and removed itself before we looked
                return run.set_status(final["state"], **{k: v for k, v in final.items() if k != "state"})
            if run.job_state().get("stop_requested"):  # read afresh: a Stop ends the pod before it says 'stopped'
                return run.set_status(RunState.STOPPED, phase=None, error=None)
            if spot:
                return self._interrupted(run, f"spot pod {pod_id} is gone")
            return run.set_status(RunState.FAILED, phase=None, error=f"pod {pod_id} no longer exists "
                                  "(and the run folder on the volume has no final state)")
        fields["pod_status"], fields["cost_per_hr"] = pod.get("desiredStatus"), pod.get("costPerHr")
        runtime = pod.get("runtime") or {}
        uptime = runtime.get("uptimeInSeconds")
        last = state.get("last_uptime")
        if uptime is not None and last is not None and uptime < last:  # the container started again
            fields["restarts"] = int(state.get("restarts", 0)) + 1
        if uptime is not None:
            fields["last_uptime"] = uptime
        run.update_job_state(**fields)
        restarts = fields.get("restarts", state.get("restarts", 0))
        if restarts >= int(self.s["restart_limit"]):
            return self._fail(run, f"pod {pod_id}: the container keeps restarting ({restarts} restarts); "
                                   "see the pod's logs on runpod.io (a bad image or entrypoint?)")
        if pod.get("desiredStatus") in GONE and not state.get("stop_requested"):
            if spot:
                return self._interrupted(run, f"spot pod {pod_id} was interrupted ({pod['desiredStatus']})")
            return self._fail(run, f"pod {pod_id} is {pod['desiredStatus']}")
        if status.get("phase") == "provisioning":
            if runtime.get("ports"):  # RUNNING alone is not enough: the ports appear when the container is up
                run.set_status(RunState.RUNNING, phase="starting", error=None)
            elif time.time() - float(state.get("created_at", time.time())) > float(self.s["ready_timeout_s"]):
                self._fail(run, f"pod {pod_id} was not ready after {self.s['ready_timeout_s']:.0f} s "
                                f"(status {pod.get('desiredStatus')}, no ports yet)")

    def wait_ready(self, run: RunRecord, timeout: float | None = None) -> dict[str, Any]:
        """Block until the pod is up (its ports are set); RunPodError with the reason when it fails."""
        timeout = float(timeout if timeout is not None else self.s["ready_timeout_s"])
        deadline = time.monotonic() + timeout
        while True:
            self.check_pod(run, force=True)
            status = run.raw_status()
            if status.get("state") == RunState.FAILED:
                raise RunPodError(status.get("error") or f"pod {run.job_state().get('pod_id')} failed")
            if status.get("phase") != "provisioning" or status.get("state") in TERMINAL:
                return status
            if time.monotonic() > deadline:
                msg = f"pod {run.job_state().get('pod_id')} was not ready after {timeout:.0f} s (no ports yet)"
                self._fail(run, msg)
                raise RunPodError(msg)
            time.sleep(min(float(self.s["poll_s"]), 5.0))

    def _unreachable(self, run: RunRecord, why: str) -> None:
        run.update_job_state(unreachable=why)
        log.warning("run %s is unreachable: %s", run.run_id, why)

    def refresh(self, run: RunRecord) -> None:
        """Bring the run's status (job_state.json) up to date from the API and the agent; an unreachable pod
        or API is recorded (``unreachable`` in job_state, shown in the runs list), never raised."""
        try:
            self.check_pod(run)
        except RunPodError as exc:
            return self._unreachable(run, str(exc))
        status = run.raw_status()
        if status.get("state") in TERMINAL and run.job_state().get("remote_ended_at"):
            self.pod_billing(run)  # learns that the pod removed itself, or removes it if it did not
        if status.get("state") in TERMINAL or status.get("phase") == "provisioning" \
                or not run.job_state().get("agent_url"):  # no pod yet (the data is still uploading): nobody to ask
            return
        try:
            remote = self.client(run).status()
        except AgentError as exc:  # the agent may still be starting; keep the last known status
            run.update_job_state(agent_error=str(exc))
            if status.get("phase") != "starting":  # it answered before: now it does not
                self._unreachable(run, str(exc))
            return
        remote_status = remote.get("status") or {}
        if remote_status.get("state"):
            run.set_status(remote_status["state"], **{k: v for k, v in remote_status.items() if k not in ("state",)})
        ckpt_dir = run.job_state().get("remote_run_dir", "") + "/checkpoints"
        names = remote.get("checkpoints", [])
        run.update_job_state(agent_error=None, unreachable=None,
                             remote_ended_at=time.time() if remote_status.get("state") in TERMINAL else None,
                             remote_latest=f"{ckpt_dir}/model_checkpoint_latest.pth" if "model_checkpoint_latest.pth" in names else None,
                             remote_best=f"{ckpt_dir}/model_checkpoint_best.pth" if "model_checkpoint_best.pth" in names else None)

    def pod_billing(self, run: RunRecord) -> dict[str, Any] | None:
        """The run's pod while it still exists (``{"pod_id", "status", "cost_per_hr"}``), else None.

        Asked from the API at most every ``poll_s``; a pod that should have removed itself (its run
        ended more than ``linger_s`` + 2 min ago) is terminated here. Never raises: an API failure
        answers with the last known pod and ``unreachable``.
        """
        state = run.job_state()
        if not state.get("pod_id") or state.get("terminated"):
            return None
        out = {"pod_id": state["pod_id"], "status": state.get("pod_status"), "cost_per_hr": state.get("cost_per_hr")}
        if time.time() - float(state.get("last_billing_check", 0.0)) >= float(self.s["poll_s"]):
            try:
                pod = get_pod(state["pod_id"])
            except RunPodError as exc:
                return {**out, "unreachable": str(exc)}
            if not pod:
                run.update_job_state(pod_ended=True, terminated=True, last_billing_check=time.time())
                return None
            out.update(status=pod.get("desiredStatus"), cost_per_hr=pod.get("costPerHr"))
            run.update_job_state(pod_status=out["status"], cost_per_hr=out["cost_per_hr"], last_billing_check=time.time())
        ended = state.get("remote_ended_at")
        if ended and time.time() - float(ended) > float(self.s["linger_s"]) + 120 and out["status"] == "RUNNING":
            log.warning("run %s ended %.0f s ago but pod %s still runs: terminating it", run.run_id,
                        time.time() - float(ended), state["pod_id"])
            if self.end_pod(run, "terminate"):
                return None
        return out

    def _agent_up(self, run: RunRecord) -> bool:
        """Whether the pod's agent can be asked (the pod has its ports); checks the pod when unsure."""
        if not run.job_state().get("agent_url") or run.job_state().get("terminated"):
            return False
        if run.raw_status().get("phase") == "provisioning":
            try:
                self.check_pod(run)
            except RunPodError as exc:
                self._unreachable(run, str(exc))
        return run.raw_status().get("phase") != "provisioning"

    def sync_metrics(self, run: RunRecord) -> None:
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

    def sync_log(self, run: RunRecord) -> None:
        if not self._agent_up(run):
            return
        try:
            lines = self.client(run).log(200)
        except AgentError:
            return
        (run.root / "train.log").write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def sync_system(self, run: RunRecord) -> None:
        """Copy the pod's system.jsonl home (whole: its writer keeps it small); unchanged, the file is left alone.
        Only once the agent is up: this never asks the API about the pod (the metrics' sync does)."""
        state = run.job_state()
        if not state.get("agent_url") or state.get("terminated") or run.raw_status().get("phase") == "provisioning":
            return
        try:
            rows = self.client(run).system()
        except AgentError:
            return
        text = "".join(json.dumps(r) + "\n" for r in rows if isinstance(r, dict))
        path = run.root / SYSTEM_FILE
        if text and (not path.is_file() or path.read_text(encoding="utf-8") != text):
            atomic_write_text(path, text)

    def fetch_checkpoint(self, run: RunRecord, which: str = "best") -> Path:
        """Copy the best or latest checkpoint into the local run folder: from the pod's agent while it is up,
        else from the network volume (resumable, verified after the body: ``fetch``)."""
        return Path(fetch(run, which)[0]["path"])

    # ------------------------------------------------------------------ control
    def stop(self, run: RunRecord, wait: bool, timeout: float) -> None:
        """Ask the agent to stop training (latest checkpoint saved on the volume), wait for it, then end the pod."""
        run.update_job_state(stop_requested=True)
        state = run.job_state()  # no agent to ask before the pod exists (uploading) or once it ended
        if run.raw_status().get("phase") != "provisioning" and state.get("agent_url") and not state.get("pod_ended"):
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
        self.end_pod(run)
        if run.raw_status().get("state") not in TERMINAL:
            run.set_status(RunState.STOPPED, phase=None)

    def terminate(self, run: RunRecord) -> None:
        """Remove the pod now (the network volume and what the run wrote there stay)."""
        if not run.job_state().get("pod_id"):
            return
        run.update_job_state(stop_requested=True)
        if not self.end_pod(run, "terminate"):
            raise RunPodError(f"run {run.run_id}: pod {run.job_state()['pod_id']} could not be terminated: "
                              f"{run.job_state().get('pod_end_error')}")
        if run.raw_status().get("state") not in TERMINAL:
            run.set_status(RunState.STOPPED, phase=None, error="the pod was terminated while the run was active; "
                           "training since its last checkpoint on the volume is lost")
