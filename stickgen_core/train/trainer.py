"""The training loop: pretraining or SFT, resume_from / init_from, LoRA, run folder.

Run folder (DESIGN.md): run.json, status.json (kept current), metrics.jsonl (one JSON
line per log interval and per epoch, flushed), checkpoints/model_checkpoint_{latest,best}.pth
(atomic), train.log (written by the CLI's log handler).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import torch

from ..config import RunSources, StickGenConfig
from ..errors import ConfigError, StickGenError, TrainingDivergedError
from ..io import atomic_write_text
from ..limits import read_json_file
from ..model import StickFigureTransformer
from ..model.loading import apply_lora, load_config_from_checkpoint, load_weights, pick_device
from ..run_state import RunState
from .planner import planner_for_training
from .checkpoint import BEST, LATEST, load_checkpoint, save_checkpoint
from .data import MotionData
from .distributed import setup, teardown
from .losses import compute_losses
from .precision import autocast_for
from .reporters import Reporters, open_reporters
from .optim import LRSchedule, build_optimizer
from .state import Snapshots, TrainState, resume_into
from ..system_metrics import SystemSampler

log = logging.getLogger(__name__)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunFolder:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.root / "metrics.jsonl", "a", encoding="utf-8")
        me = psutil.Process()
        self._process = {"pid": me.pid, "create_time": me.create_time(), "host": socket.gethostname()}
        self.reporters = Reporters()  # TensorBoard / W&B / MLflow (training.report_to), opened by train()
        self.system: SystemSampler | None = None   # CPU / memory / GPU samples (system.jsonl), started by train()

    def write_json(self, name: str, data: dict) -> None:
        atomic_write_text(self.root / name, json.dumps(data, indent=2, default=str))

    def update_json(self, name: str, data: dict) -> None:
        """Write ``data`` over the keys of an existing JSON file (a job's own keys in run.json survive)."""
        path = self.root / name
        try:  # bounded and depth-checked: the folder may hold a damaged or hostile file
            old = read_json_file(path, "a run record (JSON)") if path.is_file() else {}
        except ConfigError as exc:
            log.warning("%s; written anew", exc)
            old = {}
        self.write_json(name, {**(old if isinstance(old, dict) else {}), **data})

    def status(self, state: RunState, **fields: Any) -> None:
        # while running, which process this is: a reader can tell a killed trainer (kill -9) from a live one
        data = {"state": state, "updated": _now(), **fields, "process": self._process if state == RunState.RUNNING else None}
        try:
            self.write_json("status.json", data)
        except StickGenError:
            # full disk: no room for a temp copy; overwriting in place frees the old blocks first
            with open(self.root / "status.json", "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, default=str))

    def metric(self, record: dict) -> None:
        self._metrics.write(json.dumps(record, default=float) + "\n")
        self._metrics.flush()  # a reader tailing the file sees every line as it is written
        self.reporters.log(record)

    def close(self) -> None:
        self._metrics.close()
        self.reporters.close()
        if self.system is not None:
            self.system.stop()


def train(cfg: StickGenConfig, sources: RunSources, run_dir: str | Path, *,
          should_stop: Callable[[], bool] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    """Train per ``cfg`` into ``run_dir``; returns a summary. ``should_stop`` is polled after every
    optimizer step: when it turns True the latest checkpoint is saved and status becomes 'stopped'."""
    tc = cfg.training
    device = pick_device(tc.device)
    ddp = setup(device.type)
    if ddp.enabled and device.type == "cuda":
        device = torch.device("cuda", ddp.local_rank)
    run = RunFolder(run_dir) if ddp.main else _Silent()
    torch.manual_seed(tc.seed)
    if cfg.diffusion.freeze_transformer and not (sources.init_from.value or sources.resume_from.value):
        raise ConfigError("diffusion.freeze_transformer: true trains the refiner on a trained transformer: "
                          "pass --init_from (or resume_from) with its checkpoint")
    if sources.data_path.value is None:
        raise ConfigError("no training data: pass --data_path, set TRAIN_DATA_PATH or data.train_data")
    if cfg.data.use_parallax_augmentation:  # clips paired with their renders; the model gets an image encoder
        from ..parallax.training import ParallaxMotionData

        cfg.model.image_conditioning = True
        data: MotionData = ParallaxMotionData(sources.data_path.value, cfg.data, val_fraction=tc.val_fraction,
                                              seed=tc.seed, max_frames=tc.max_frames)
    else:
        data = MotionData(sources.data_path.value, val_fraction=tc.val_fraction, seed=tc.seed, max_frames=tc.max_frames)
    if isinstance(cfg.model.embedding_dim, int):
        data.check_dim(cfg.model.embedding_dim, "config")
    resume = load_checkpoint(sources.resume_from.value, for_resume=True) if sources.resume_from.value else None
    if resume is not None:  # rebuild the model exactly as it was saved (nanoGPT style)
        saved = load_config_from_checkpoint(resume, sources.resume_from.value)
        if saved.model != cfg.model:
            log.warning("resuming: model section differs from the checkpoint's; the checkpoint's is used")
            cfg.model = saved.model
        if saved.diffusion != cfg.diffusion or saved.loss_weights.diffusion != cfg.loss_weights.diffusion:
            log.warning("resuming: diffusion settings differ from the checkpoint's; the checkpoint's are used")
            cfg.diffusion, cfg.loss_weights.diffusion = saved.diffusion, saved.loss_weights.diffusion
    model: torch.nn.Module = StickFigureTransformer(cfg.model, data.embedding_dim, cfg.diffusion)
    model.start_pose.copy_(data.first_pose)  # init_from / resume_from overwrite it with the saved one
    if sources.init_ignored:
        log.warning("both resume_from and init_from are set: resuming from %s, init_from %s",
                    sources.resume_from.value, sources.init_from.origin)
    if sources.init_from.value and resume is None:
        init = load_checkpoint(sources.init_from.value)
        state = {k: v for k, v in init["model_state_dict"].items() if "lora_" not in k}
        state = {k.replace("base_model.model.", "").replace(".base_layer", ""): v for k, v in state.items()}
        if getattr(model, "image_encoder", None) is not None and not any(k.startswith("image_encoder.") for k in state):
            # a text-only model fine-tuned with images: its image encoder starts fresh (at zero effect)
            state.update({k: v for k, v in model.state_dict().items() if k.startswith("image_encoder.")})
            log.info("init_from has no image encoder: it starts fresh on the loaded transformer")
        if model.refiner is not None and not any(k.startswith("refiner.") for k in state):
            # a second stage: the transformer's weights, a fresh refiner on top
            state.update({k: v for k, v in model.state_dict().items() if k.startswith("refiner.")})
            log.info("init_from has no refiner: it starts fresh on the loaded transformer")
        load_weights(model, state, sources.init_from.value, "the model of this config and data "
                     f"({cfg.model.d_model}-wide, {cfg.model.n_layers} layers, {data.embedding_dim}-dim text)")
        log.info("initialised weights from %s (%s); optimizer and schedule start fresh at epoch 0",
                 sources.init_from.value, sources.init_from.origin)
    if cfg.diffusion.freeze_transformer:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("refiner."))
    if cfg.lora.enabled:
        model = apply_lora(model, cfg)
    model.to(device)
    core = model  # what gets saved and evaluated; ``model`` may become the DDP wrapper
    if ddp.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[ddp.local_rank] if device.type == "cuda" else None)
    n_total = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("parameters: %d trainable of %d (%.2f %%)", n_train, n_total, 100 * n_train / n_total)
    steps_per_epoch = max(math.ceil(len(data.train_idx) / tc.batch_size / ddp.world / tc.grad_accum_steps), 1)
    opt, groups, schedule = build_optimizer(model, cfg, steps_per_epoch)
    progress = TrainState()
    if resume is not None:
        progress = resume_into(resume, sources.resume_from.value, core, opt, run.checkpoints / BEST)
        log.info("resumed from %s (%s) at epoch %d, step %d", sources.resume_from.value, sources.resume_from.origin,
                 progress.epoch, progress.step)
    run.update_json("run.json", {"config": cfg.to_dict(), "stage": tc.stage, "backend": "local",
                                "command": command or sys.argv, "created": _now(), "device": str(device),
                                "data_path": sources.data_path.value, "embedding_dim": data.embedding_dim,
                                "sources": {k: vars(getattr(sources, k)) for k in ("data_path", "resume_from", "init_from")},
                                "parameters": {"total": n_total, "trainable": n_train},
                                "clips": {"train": len(data.train_idx), "val": len(data.val_idx)},
                                # batch_size is per process (one per GPU under torchrun); an optimizer step sees total
                                "batch": {"per_gpu": tc.batch_size, "grad_accum_steps": tc.grad_accum_steps,
                                          "processes": ddp.world,
                                          "total": tc.batch_size * tc.grad_accum_steps * ddp.world}})
    if ddp.main:  # after the resume point is known: TensorBoard drops the events past it
        run.reporters = open_reporters(tc.report_to, run.root, cfg.to_dict(), start_step=progress.step)
    snapshots = Snapshots(core, opt, schedule, cfg, data, planner_for_training(cfg, data.samples, data.train_idx))
    amp = autocast_for(tc.precision, device)

    summary: dict[str, Any] = {"run_dir": str(run.root), "stopped": False}
    start_epoch = progress.epoch
    if ddp.main:
        run.system = SystemSampler(run.root, device=device).start()
    run.status(RunState.RUNNING, epoch=start_epoch, global_step=progress.step, error=None)
    for epoch in range(start_epoch, tc.epochs):
        progress.epoch = epoch
        model.train()
        t0, seen, running, n_batches = time.perf_counter(), 0, 0.0, 0
        if epoch == start_epoch:
            running, n_batches = progress.carried
        opt.zero_grad(set_to_none=True)
        n_all = math.ceil(len(data.train_idx) / tc.batch_size)
        usable = n_all - n_all % ddp.world if ddp.enabled else n_all
        first = progress.skip if epoch == start_epoch else 0
        mine = lambda i: first <= i < usable and i % ddp.world == ddp.rank  # noqa: E731  (streamed data reads only these)
        for i, batch in enumerate(data.batches("train", tc.batch_size, epoch, tc.seed, keep=mine)):
            if epoch == start_epoch and i < progress.skip:
                continue
            if i % ddp.world != ddp.rank or i >= usable:  # this rank's share; equal counts on every rank
                continue
            batch = batch.to(device)
            with amp:
                terms = compute_losses(model, batch, cfg.loss_weights, tc)
            loss = terms["total"].item()
            if not math.isfinite(loss):
                diverged(data, cfg, progress, i, "loss", loss)
            (terms["total"] / tc.grad_accum_steps).backward()
            running += loss
            n_batches += 1
            seen += batch.text.shape[0]
            if n_batches % tc.grad_accum_steps:
                continue
            optimizer_step(opt, groups, schedule, data, cfg, progress, i)
            if progress.step % tc.log_interval == 0:
                rec = {"type": "step", "epoch": epoch, "step": progress.step, "lr": schedule.lr(progress.step),
                       "samples_per_s": seen / (time.perf_counter() - t0), "time": _now()}
                rec.update({f"train_{k}": ddp.mean(v.item()) for k, v in terms.items()})
                rec["samples_per_s"] *= ddp.world
                run.metric(rec)
                run.status(RunState.RUNNING, epoch=epoch, global_step=progress.step, error=None)
            if ddp.any(bool(should_stop and should_stop())):
                # epoch stays the last completed one; resume_* say where inside this epoch we are
                if ddp.main:
                    save_checkpoint(run.checkpoints / LATEST, snapshots.payload(
                        progress, epoch - 1, running / max(n_batches, 1), float("nan"), {}, resume_epoch=epoch,
                        resume_batch=i + 1, resume_running=running, resume_batches=n_batches))
                run.status(RunState.STOPPED, epoch=epoch - 1, global_step=progress.step, error=None)
                log.info("stop requested: saved %s", run.checkpoints / LATEST)
                run.close()
                ddp.barrier()
                teardown(ddp)
                return dict(summary, stopped=True, epoch=epoch - 1, global_step=progress.step)
        left = n_batches % tc.grad_accum_steps
        if left:  # the epoch's last, partial accumulation is a step too (steps_per_epoch counts it)
            for p in (p for part in groups for p in part):
                if p.grad is not None:
                    p.grad.mul_(tc.grad_accum_steps / left)
            optimizer_step(opt, groups, schedule, data, cfg, progress, n_batches - 1)
        val = evaluate(core, data, cfg, device, epoch) if ddp.main else {}
        train_loss = ddp.mean(running / max(n_batches, 1))
        rec = {"type": "epoch", "epoch": epoch, "step": progress.step, "train_loss": train_loss, "time": _now(),
               "epoch_seconds": time.perf_counter() - t0, **{f"val_{k}": v for k, v in val.items()}}
        run.metric(rec)
        val_loss = val.get("total", train_loss)
        is_best = val_loss < progress.best
        progress.best = min(progress.best, val_loss)
        bad = next((n for n, p in core.named_parameters() if not bool(torch.isfinite(p).all())), None)
        if bad is not None:
            raise TrainingDivergedError(f"weight {bad} became NaN/inf during epoch {epoch} (step {progress.step}); no "
                                        "checkpoint was written for it. Lower training.learning_rate")
        if ddp.main:
            ck = snapshots.payload(progress, epoch, train_loss, val_loss, val)
            if is_best:  # best first: a crash between the two never leaves a latest that claims a better best
                save_checkpoint(run.checkpoints / BEST, ck)
            save_checkpoint(run.checkpoints / LATEST, ck)
        ddp.barrier()
        run.status(RunState.RUNNING, epoch=epoch, global_step=progress.step, error=None)
        log.info("epoch %d: train %.4f val %.4f%s", epoch, train_loss, val_loss, " (best)" if is_best else "")
        summary.update(epoch=epoch, global_step=progress.step, train_loss=train_loss, val_loss=val_loss,
                       best_val_loss=progress.best)
    run.status(RunState.COMPLETED, epoch=tc.epochs - 1, global_step=progress.step, error=None)
    run.close()
    teardown(ddp)
    return summary


def diverged(data: MotionData, cfg: StickGenConfig, state: TrainState, i: int, what: str, value: float) -> None:
    """Stop before the optimizer (or a checkpoint) sees a non-finite value; name the step and clips."""
    tc = cfg.training
    ids = data.batch_clip_ids("train", tc.batch_size, state.epoch, tc.seed, i)
    raise TrainingDivergedError(
        f"non-finite {what} ({value}) at epoch {state.epoch}, step {state.step + 1}, batch {i} (clips "
        f"{', '.join(ids[:8])}{' ...' if len(ids) > 8 else ''}); no checkpoint was written for it. Lower "
        "training.learning_rate or check these clips")


def optimizer_step(opt: torch.optim.Optimizer, parts: list[list[torch.nn.Parameter]], schedule: LRSchedule,
                   data: MotionData, cfg: StickGenConfig, state: TrainState, i: int) -> None:
    """Clip each parameter part on its own, step at the learning rate of ``state.step``, count the step."""
    for part in parts:
        norm = float(torch.nn.utils.clip_grad_norm_(part, cfg.training.max_grad_norm)) if part else 0.0
        if not math.isfinite(norm):
            diverged(data, cfg, state, i, "gradient norm", norm)
    schedule.apply(opt, state.step)
    opt.step()
    opt.zero_grad(set_to_none=True)
    state.step += 1


class _Silent:
    """The run folder of ranks other than 0: they write nothing."""

    def __getattr__(self, _name: str):
        return lambda *a, **k: None


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: MotionData, cfg: StickGenConfig, device: torch.device, epoch: int) -> dict[str, float]:
    """Mean validation losses (and action accuracy) over the held-out clips."""
    if not data.val_idx:
        return {}
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for batch in data.batches("val", cfg.training.batch_size, epoch, cfg.training.seed, shuffle=False):
        terms = compute_losses(model, batch.to(device), cfg.loss_weights)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * batch.text.shape[0]
        n += batch.text.shape[0]
    model.train()
    return {k: v / n for k, v in sums.items()}
