"""The training loop: pretraining or SFT, resume_from / init_from, LoRA, run folder.

``train`` builds the run (``build``: data, model, record), then ``EpochLoop`` runs it: each epoch's
steps (``train_epoch``: forward, backward, accumulation, a clipped optimizer step at the learning rate
of its step number, a checkpoint and 'stopped' when asked to stop), then ``end_epoch`` (validation,
best before latest). Run folder (DESIGN.md, ``run_folder``): run.json, status.json, metrics.jsonl,
checkpoints/model_checkpoint_{latest,best}.pth (atomic), train.log (written by the CLI's log handler).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..config import RunSources, StickGenConfig
from ..errors import TrainingDivergedError
from ..model.loading import pick_device
from ..run_state import RunState
from ..system_metrics import SystemSampler
from .build import adopt_saved_model, build_model, check_sources, load_training_data, run_record
from .checkpoint import BEST, LATEST, load_checkpoint, save_checkpoint
from .data import MotionData
from .distributed import Dist, setup, teardown
from .losses import compute_losses
from .optim import LRSchedule, build_optimizer
from .planner import planner_for_training
from .precision import autocast_for
from .reporters import open_reporters
from .run_folder import RunFolder, SilentFolder, now_iso
from .state import Snapshots, TrainState, resume_into

__all__ = ["EpochLoop", "RunFolder", "autocast_for", "evaluate", "train"]

log = logging.getLogger(__name__)


def train(cfg: StickGenConfig, sources: RunSources, run_dir: str | Path, *,
          should_stop: Callable[[], bool] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    """Train per ``cfg`` into ``run_dir``; returns a summary. ``should_stop`` is polled after every
    optimizer step: when it turns True the latest checkpoint is saved and status becomes 'stopped'."""
    tc = cfg.training
    device = pick_device(tc.device)
    ddp = setup(device.type)
    if ddp.enabled and device.type == "cuda":
        device = torch.device("cuda", ddp.local_rank)
    run = RunFolder(run_dir) if ddp.main else SilentFolder()
    torch.manual_seed(tc.seed)
    check_sources(cfg, sources)
    data = load_training_data(cfg, sources)
    resume = load_checkpoint(sources.resume_from.value, for_resume=True) if sources.resume_from.value else None
    if resume is not None:
        adopt_saved_model(cfg, resume, sources.resume_from.value)
    core = build_model(cfg, sources, data, resumed=resume is not None).to(device)  # saved and evaluated
    model = core  # what steps: the DDP wrapper under torchrun
    if ddp.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(core, device_ids=[ddp.local_rank] if device.type == "cuda" else None)
    steps_per_epoch = max(math.ceil(len(data.train_idx) / tc.batch_size / ddp.world / tc.grad_accum_steps), 1)
    opt, groups, schedule = build_optimizer(model, cfg, steps_per_epoch)
    progress = TrainState()
    if resume is not None:  # every rank reads the folder's best (ranks other than 0 write nothing)
        progress = resume_into(resume, sources.resume_from.value, core, opt, Path(run_dir) / "checkpoints" / BEST)
        log.info("resumed from %s (%s) at epoch %d, step %d", sources.resume_from.value, sources.resume_from.origin,
                 progress.epoch, progress.step)
    run.update_json("run.json", run_record(cfg, sources, data, model, device, ddp, command, now_iso()))
    if ddp.main:  # after the resume point is known: TensorBoard drops the events past it
        run.reporters = open_reporters(tc.report_to, run.root, cfg.to_dict(), start_step=progress.step)
    snapshots = Snapshots(core, opt, schedule, cfg, data, planner_for_training(cfg, data.samples, data.train_idx))
    if ddp.main:
        run.system = SystemSampler(run.root, device=device).start()
    loop = EpochLoop(cfg, run, ddp, device, data, model, core, opt, groups, schedule, progress, snapshots,
                     autocast_for(tc.precision, device), should_stop)
    return loop.run()


@dataclass
class EpochLoop:
    """One run's moving parts and the steps of its loop; ``progress`` is where it stands (what a resume restores)."""

    cfg: StickGenConfig
    folder: RunFolder | SilentFolder   # the run folder (rank 0's; other ranks write nothing)
    ddp: Dist
    device: torch.device
    data: MotionData
    model: torch.nn.Module             # what steps (the DDP wrapper under torchrun)
    core: torch.nn.Module              # what is saved and evaluated
    opt: torch.optim.Optimizer
    groups: list[list[torch.nn.Parameter]]
    schedule: LRSchedule
    progress: TrainState
    snapshots: Snapshots
    amp: Any
    should_stop: Callable[[], bool] | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        """Every epoch from where the run stands to the last; the summary (``stopped`` when asked to stop)."""
        tc = self.cfg.training
        self.summary = {"run_dir": str(self.folder.root), "stopped": False}
        start = self.progress.epoch
        self.folder.status(RunState.RUNNING, epoch=start, global_step=self.progress.step, error=None)
        for epoch in range(start, tc.epochs):
            totals = self.train_epoch(epoch, continuing=epoch == start)
            if totals is None:  # stopped inside the epoch: its latest checkpoint is saved
                return dict(self.summary, stopped=True, epoch=epoch - 1, global_step=self.progress.step)
            self.end_epoch(epoch, *totals)
        self.folder.status(RunState.COMPLETED, epoch=tc.epochs - 1, global_step=self.progress.step, error=None)
        self.folder.close()
        teardown(self.ddp)
        return self.summary

    def train_epoch(self, epoch: int, continuing: bool) -> tuple[float, int, float] | None:
        """This rank's batches of ``epoch`` (after a mid-epoch resume, those not yet used): the epoch's loss
        sum, batch count and start time, or None when a stop was asked for (latest saved, status 'stopped')."""
        tc, ddp, progress = self.cfg.training, self.ddp, self.progress
        progress.epoch = epoch
        self.model.train()
        t0, seen, running, n_batches = time.perf_counter(), 0, 0.0, 0
        if continuing:
            running, n_batches = progress.carried
        self.opt.zero_grad(set_to_none=True)
        n_all = math.ceil(len(self.data.train_idx) / tc.batch_size)
        usable = n_all - n_all % ddp.world if ddp.enabled else n_all  # equal counts on every rank
        first = progress.skip if continuing else 0
        mine = lambda i: first <= i < usable and i % ddp.world == ddp.rank  # noqa: E731  (streamed data reads only these)
        for i, batch in enumerate(self.data.batches("train", tc.batch_size, epoch, tc.seed, keep=mine)):
            if not mine(i):  # a batch another rank takes, or one a resume already used
                continue
            batch = batch.to(self.device)
            with self.amp:
                terms = compute_losses(self.model, batch, self.cfg.loss_weights, tc)
            loss = terms["total"].item()
            if not math.isfinite(loss):
                diverged(self.data, self.cfg, progress, i, "loss", loss)
            (terms["total"] / tc.grad_accum_steps).backward()
            running += loss
            n_batches += 1
            seen += batch.text.shape[0]
            if n_batches % tc.grad_accum_steps:
                continue
            optimizer_step(self.opt, self.groups, self.schedule, self.data, self.cfg, progress, i)
            if progress.step % tc.log_interval == 0:
                self.log_step(epoch, terms, seen / (time.perf_counter() - t0))
            if ddp.any(bool(self.should_stop and self.should_stop())):
                self.save_stopped(epoch, i, running, n_batches)
                return None
        left = n_batches % tc.grad_accum_steps
        if left:  # the epoch's last, partial accumulation is a step too (steps_per_epoch counts it)
            for p in (p for part in self.groups for p in part):
                if p.grad is not None:
                    p.grad.mul_(tc.grad_accum_steps / left)
            optimizer_step(self.opt, self.groups, self.schedule, self.data, self.cfg, progress, n_batches - 1)
        return running, n_batches, t0

    def log_step(self, epoch: int, terms: dict[str, torch.Tensor], samples_per_s: float) -> None:
        rec = {"type": "step", "epoch": epoch, "step": self.progress.step, "lr": self.schedule.lr(self.progress.step),
               "samples_per_s": samples_per_s * self.ddp.world, "time": now_iso()}
        rec.update({f"train_{k}": self.ddp.mean(v.item()) for k, v in terms.items()})
        self.folder.metric(rec)
        self.folder.status(RunState.RUNNING, epoch=epoch, global_step=self.progress.step, error=None)

    def save_stopped(self, epoch: int, i: int, running: float, n_batches: int) -> None:
        """A stop inside ``epoch`` after batch ``i``: ``epoch`` stays the last completed one, ``resume_*`` say
        where inside this epoch the run is, so a resume continues with batch ``i + 1``."""
        if self.ddp.main:
            save_checkpoint(self.folder.checkpoints / LATEST, self.snapshots.payload(
                self.progress, epoch - 1, running / max(n_batches, 1), float("nan"), {}, resume_epoch=epoch,
                resume_batch=i + 1, resume_running=running, resume_batches=n_batches))
        self.folder.status(RunState.STOPPED, epoch=epoch - 1, global_step=self.progress.step, error=None)
        log.info("stop requested: saved %s", self.folder.checkpoints / LATEST)
        self.folder.close()
        self.ddp.barrier()
        teardown(self.ddp)

    def end_epoch(self, epoch: int, running: float, n_batches: int, t0: float) -> None:
        """Validate, log the epoch's row, and checkpoint: best (only when better) before latest."""
        ddp, progress = self.ddp, self.progress
        val = evaluate(self.core, self.data, self.cfg, self.device, epoch) if ddp.main else {}
        train_loss = ddp.mean(running / max(n_batches, 1))
        self.folder.metric({"type": "epoch", "epoch": epoch, "step": progress.step, "train_loss": train_loss,
                         "time": now_iso(), "epoch_seconds": time.perf_counter() - t0,
                         **{f"val_{k}": v for k, v in val.items()}})
        val_loss = val.get("total", train_loss)
        is_best = val_loss < progress.best
        progress.best = min(progress.best, val_loss)
        bad = next((n for n, p in self.core.named_parameters() if not bool(torch.isfinite(p).all())), None)
        if bad is not None:
            raise TrainingDivergedError(f"weight {bad} became NaN/inf during epoch {epoch} (step {progress.step}); no "
                                        "checkpoint was written for it. Lower training.learning_rate")
        if ddp.main:
            ck = self.snapshots.payload(progress, epoch, train_loss, val_loss, val)
            if is_best:  # best first: a crash between the two never leaves a latest that claims a better best
                save_checkpoint(self.folder.checkpoints / BEST, ck)
            save_checkpoint(self.folder.checkpoints / LATEST, ck)
        ddp.barrier()
        self.folder.status(RunState.RUNNING, epoch=epoch, global_step=progress.step, error=None)
        log.info("epoch %d: train %.4f val %.4f%s", epoch, train_loss, val_loss, " (best)" if is_best else "")
        self.summary.update(epoch=epoch, global_step=progress.step, train_loss=train_loss, val_loss=val_loss,
                            best_val_loss=progress.best)


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
