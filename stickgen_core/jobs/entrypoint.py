"""``stickgen runpod-entrypoint``: what a training pod runs (and what runs locally without Docker).

Reads the spec's variables: ``MODEL_VARIANT`` (a config name, e.g. ``base`` or ``sft_base``),
``TRAIN_DATA_PATH``, ``RESUME_FROM_CHECKPOINT``, ``INIT_FROM_CHECKPOINT``, ``USE_LORA``; and ours:
``STICKGEN_JOB`` (the whole JobSpec as JSON, which the variables above override),
``STICKGEN_RUN_DIR`` (default ``/runpod-volume/runs/$STICKGEN_RUN_ID``), ``STICKGEN_AGENT_TOKEN``,
``STICKGEN_AGENT_PORT`` (8765), ``STICKGEN_DATA_DIR`` (uploads), ``AGENT_LINGER_SECONDS``
(how long the agent keeps serving after training ends for a last fetch, default 300; -1 = until
the pod stops) and ``STICKGEN_POD_END`` (``terminate``, the default, or ``stop``).
Then it starts ``stickgen agent`` and runs embed (if needed) -> train into the run folder; a run
folder that already holds ``checkpoints/model_checkpoint_latest.pth`` (a restarted container, a new
pod after an interruption) resumes from it. After the linger the pod removes itself through the
RunPod API with the pod-scoped ``RUNPOD_API_KEY`` and ``RUNPOD_POD_ID`` that RunPod injects, so a
finished or failed run never bills on.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Mapping

import yaml

from ..errors import JobError
from ..run_state import RunState
from .agent import TOKEN_ENV
from .pipeline import supervise
from .process import spawn
from .run_record import LATEST, RunRecord, now_iso, write_json
from .runpod_api import end_pod
from .spec import JobSpec, LoraSpec

log = logging.getLogger(__name__)
DEFAULT_LINGER_S = 300.0


def spec_from_env(env: Mapping[str, str]) -> JobSpec:
    """The job this pod runs: ``STICKGEN_JOB`` overridden by the spec's variables."""
    if env.get("STICKGEN_JOB"):
        try:
            spec = JobSpec.from_dict(json.loads(env["STICKGEN_JOB"]))
        except ValueError as exc:
            raise JobError(f"STICKGEN_JOB: expected the JSON of a JobSpec ({exc})") from None
    else:
        variant = env.get("MODEL_VARIANT", "base")
        spec = JobSpec(stage="sft" if Path(variant).stem.startswith("sft_") else "pretrain", config=variant,
                       data=env.get("TRAIN_DATA_PATH", ""))
    changes: dict = {"backend": "runpod"}
    if env.get("MODEL_VARIANT"):
        changes["config"] = env["MODEL_VARIANT"]
    if env.get("TRAIN_DATA_PATH"):
        changes["data"] = env["TRAIN_DATA_PATH"]
    if env.get("INIT_FROM_CHECKPOINT"):
        changes["init_from"] = env["INIT_FROM_CHECKPOINT"]
    if "USE_LORA" in env:
        lora = spec.lora or LoraSpec()
        changes["lora"] = LoraSpec(**{**lora.__dict__, "enabled": env["USE_LORA"].strip().lower() in ("1", "true", "yes")})
    spec = spec.replace(**changes)
    if env.get("RESUME_FROM_CHECKPOINT"):  # a resume attempt: the job keeps its init_from for the record
        spec = spec.replace(init_from=None)
    return spec.validate()


def run_dir(env: Mapping[str, str]) -> Path:
    """The run folder on the volume (``STICKGEN_RUN_DIR``, else ``/runpod-volume/runs/$STICKGEN_RUN_ID``)."""
    run_id = env.get("STICKGEN_RUN_ID") or f"pod-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    return Path(env.get("STICKGEN_RUN_DIR") or f"/runpod-volume/runs/{run_id}")


def finished_attempt(env: Mapping[str, str]) -> str | None:
    """'completed' or 'failed' when this very attempt (``STICKGEN_ATTEMPT``) already ran to its end in the
    run folder: RunPod restarts a container that exits, and a finished run must not train (and bill) again."""
    if not env.get("STICKGEN_RUN_DIR") and not env.get("STICKGEN_RUN_ID"):
        return None
    run = RunRecord(run_dir(env))
    state, job = run.raw_status().get("state"), run.job_state()
    same = str(job.get("attempt")) == env.get("STICKGEN_ATTEMPT", "1") and job.get("container_starts")
    return state if same and state in (RunState.COMPLETED, RunState.FAILED) else None


def prepare_run(env: Mapping[str, str]) -> RunRecord:
    """The run folder on the volume: config, run.json's job, this attempt's resume point."""
    root = run_dir(env)
    spec = spec_from_env(env)
    root.mkdir(parents=True, exist_ok=True)
    run = RunRecord(root)
    config = spec.resolved_config()
    if env.get("STICKGEN_DEVICE"):  # a pod trains on its GPU or fails loudly, never on the CPU at GPU prices
        config["training"]["device"] = env["STICKGEN_DEVICE"]
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    info = run.info()
    write_json(root / "run.json", {**info, "run_id": root.name, "job": spec.to_dict(), "stage": spec.stage,
                                   "run_created": info.get("run_created", now_iso())})
    latest = root / "checkpoints" / LATEST
    # the volume's own latest checkpoint wins: after a container restart or on a new pod the env is the
    # first attempt's, but training must go on from where it got to, not start over (and overwrite best)
    resume = str(latest) if latest.is_file() else env.get("RESUME_FROM_CHECKPOINT") or None
    if resume and resume != env.get("RESUME_FROM_CHECKPOINT"):
        log.info("resuming from %s found in the run folder", resume)
    run.update_job_state(attempt=int(env.get("STICKGEN_ATTEMPT", "1")), resume_from=resume, stop_requested=False,
                         container_starts=int(run.job_state().get("container_starts", 0)) + 1)
    run.set_status(RunState.RUNNING, phase="starting", error=None, log_tail=None)
    return run


def main(env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    if not env.get(TOKEN_ENV):
        raise JobError(f"{TOKEN_ENV} is not set: the run agent will not serve without a token")
    finished = finished_attempt(env)
    run = RunRecord(run_dir(env)) if finished else prepare_run(env)
    port = int(env.get("STICKGEN_AGENT_PORT", "8765"))
    data_dir = env.get("STICKGEN_DATA_DIR") or str(run.root.parent.parent / "data")
    agent_argv = [sys.executable, "-m", "stickgen_core.cli", "agent", "--run-dir", str(run.root),
                  "--port", str(port), "--data-dir", data_dir]
    if env.get("STICKGEN_AGENT_HOST"):
        agent_argv += ["--host", env["STICKGEN_AGENT_HOST"]]
    agent = spawn(agent_argv, run.root / "agent.log", detach=False, env=env)  # token via env, never argv
    try:
        if finished:  # the container came back after this attempt ended (its removal failed): never train again
            log.warning("this attempt already ended %s: serving a last fetch, then removing the pod", finished)
            state, stop_requested = finished, False
        else:
            sup = supervise(run.root)
            log.info("training ended: %s", sup.state)
            state, stop_requested = sup.state, sup.stop_requested
        # a signal to this process is the pod being stopped or taken back: no linger, nothing to remove
        if not stop_requested and _linger(float(env.get("AGENT_LINGER_SECONDS", str(DEFAULT_LINGER_S)))):
            end_own_pod(env)
        return 0 if state in (RunState.COMPLETED, RunState.STOPPED) else 1
    finally:
        agent.terminate()
        agent.wait(30)


def _linger(seconds: float) -> bool:
    """Keep serving checkpoints and logs after training; True when the time ran out, False when
    SIGTERM (the pod is being stopped) ended it."""
    done = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: done.update(flag=True))
    end = float("inf") if seconds < 0 else time.monotonic() + seconds
    while not done["flag"] and time.monotonic() < end:
        time.sleep(0.2)
    return not done["flag"]


def end_own_pod(env: Mapping[str, str], tries: int = 3, pause: float = 5.0) -> bool:
    """Stop or terminate (``STICKGEN_POD_END``) the pod this runs on; False when not on a pod or it failed."""
    pod_id, how = env.get("RUNPOD_POD_ID"), env.get("STICKGEN_POD_END", "terminate")
    if not pod_id:
        log.warning("RUNPOD_POD_ID is not set (not on a RunPod pod?): nothing to remove")
        return False
    for attempt in range(1, tries + 1):
        try:
            log.info("removing pod %s (%s)", pod_id, how)
            end_pod(pod_id, how)
            return True
        except JobError as exc:  # the key stays out of the message (runpod_api scrubs it)
            log.error("could not %s pod %s (try %d of %d): %s", how, pod_id, attempt, tries, exc)
            time.sleep(pause * attempt)
    return False
