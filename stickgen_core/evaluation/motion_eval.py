"""``stickgen eval-motion``: text-to-motion and physical metrics of a checkpoint against held-out clips.

Every metric is reported twice: for the held-out ground truth (the ceiling) and for the
generations from the same texts. The prompt-following rate sweeps every action the
synthetic generator knows x several phrasings x seeds and counts the generations whose
recognised action is the one named; its ceiling is the same count over synthetic
ground-truth clips of each action.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import DatasetError
from ..io import atomic_write_text, load_dataset
from ..schema import FPS_DEFAULT, action_index, action_name
from ..synth import SynthConfig, generate_sample
from ..synth.actions import ACTION_SPECS
from ..synth.generator import LOCOMOTION
from . import t2m
from .evaluator import MotionEvaluator, embed_clips, embed_texts, load_evaluator
from .physical import summarise_physical

log = logging.getLogger(__name__)

SWEEP_SUBJECTS = ("A person", "Someone", "A man", "A woman")
MAX_SECONDS = 10.0  # held-out clips are read (and generated) up to this length
EVALUATOR_FILE = "motion_evaluator.pt"


def sweep_prompts(phrasings: int = 3) -> list[tuple[str, str]]:
    """(action, prompt) for every synthetic action x its first ``phrasings`` verbs."""
    out = []
    for name, spec in ACTION_SPECS.items():
        for i, verb in enumerate(spec.verbs[:phrasings]):
            where = " to the right" if name in LOCOMOTION else ""
            out.append((name, f"{SWEEP_SUBJECTS[i % len(SWEEP_SUBJECTS)]} {verb}{where}."))
    return out


def ground_truth_sweep(per_action: int = 4, seconds: float = 4.0, seed: int = 0) -> tuple[list[torch.Tensor], list[str]]:
    """Single-action synthetic clips (no defects): the ceiling of the prompt-following rate."""
    motions, labels = [], []
    for name in ACTION_SPECS:
        cfg = SynthConfig(actions=(name,), multi_actor_rate=0.0, min_seconds=seconds, max_seconds=seconds)
        for i in range(per_action):
            motions.append(generate_sample(i, seed, cfg)["motion"])
            labels.append(name)
    return motions, labels


def prompt_following(evaluator: MotionEvaluator, motions: list, labels: list[str]) -> dict[str, Any]:
    """Share of clips whose recognised action is their label, overall and per action."""
    _, recognised = embed_clips(evaluator, motions)
    names = [action_name(int(a)) for a in recognised]
    hit = np.array([int(a) == action_index(lab) for a, lab in zip(recognised, labels)])
    per = {lab: float(hit[[i for i, x in enumerate(labels) if x == lab]].mean()) for lab in dict.fromkeys(labels)}
    confusions: dict[str, dict[str, int]] = {}
    for n, lab, ok in zip(names, labels, hit):
        if not ok:
            confusions.setdefault(lab, {}).setdefault(n, 0)
            confusions[lab][n] += 1
    return {"rate": float(hit.mean()), "clips": len(labels), "per_action": per, "confusions": confusions}


def _set_metrics(motion_emb: np.ndarray, text_emb: np.ndarray, reference: np.ndarray | None) -> dict[str, Any]:
    r = t2m.r_precision(motion_emb, text_emb)
    out = {"r_precision": {"top1": float(r[0]), "top2": float(r[1]), "top3": float(r[2])},
           "mm_distance": t2m.mm_distance(motion_emb, text_emb), "diversity": t2m.diversity(motion_emb)}
    if reference is not None:
        out["fid"] = t2m.fid(reference, motion_emb)
    return out


def eval_motion(checkpoint: str | Path, data: str | Path, evaluator: str | Path | None = None,
                output: str | Path | None = None, *, generator=None, max_clips: int = 256, seed: int = 0,
                temperature: float = 0.0, mm_temperature: float = 0.01, guidance_scale: float | None = None, mm_texts: int = 32,
                mm_repeats: int = 3, phrasings: int = 3, sweep_seeds: int = 2, sweep_seconds: float = 4.0,
                keep_bone_lengths: bool | None = None, refine: bool = True, plan_actions: bool = True,
                min_bone_share: float | None = None, weights: str = "float32", compile_step: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate from the held-out texts and the prompt sweep, measure, and write the JSON report."""
    from ..inference import InferenceGenerator

    say = progress or (lambda _msg: None)
    ev_path = Path(evaluator) if evaluator else Path(data).parent / EVALUATOR_FILE
    if not ev_path.exists():
        raise DatasetError(f"{ev_path}: no motion evaluator; make one with "
                           f"`stickgen train-evaluator --data TRAIN.pt --output {ev_path}`", ev_path)
    ev = load_evaluator(ev_path)
    ds = [s for s in load_dataset(data)][:max_clips]
    if not ds:
        raise DatasetError(f"{data}: no clips to evaluate on", data)
    gen = generator or InferenceGenerator(checkpoint, keep_bone_lengths=keep_bone_lengths, refine=refine,
                                          min_bone_share=min_bone_share,
                                          plan_actions=plan_actions, weights=weights,
                                          compile_step=compile_step)
    texts = [str(s["description"]) for s in ds]
    if all(s.get("embedding") is not None for s in ds):
        text_vectors = np.stack([s["embedding"].float().numpy() for s in ds])
    else:
        text_vectors = gen.encoder.encode(texts)
    if text_vectors.shape[1] != ev.cfg.text_dim:
        raise DatasetError(f"{data}: text embeddings are {text_vectors.shape[1]}-dim but the evaluator {ev_path} "
                           f"takes {ev.cfg.text_dim}-dim ones (embed with {ev.cfg.text_model})", data)
    limit = int(MAX_SECONDS * FPS_DEFAULT)
    gt = [(s["motion"][:, 0] if s["motion"].dim() == 3 else s["motion"])[:limit].float() for s in ds]
    lengths = [len(m) for m in gt]
    t_emb = embed_texts(ev, text_vectors)
    say(f"ground truth: {len(gt)} clips")
    gt_emb, _ = embed_clips(ev, gt)
    half = len(gt_emb) // 2
    report_gt = _set_metrics(gt_emb, t_emb, None)
    report_gt["fid"] = t2m.fid(gt_emb[:half], gt_emb[half:]) if half > 2 else None  # two halves of the real set
    report_gt["multimodality"] = None
    report_gt["physical"] = summarise_physical([m.numpy() for m in gt])

    say(f"generating {len(texts)} clips from the held-out texts")
    kw = {"temperature": temperature, "guidance_scale": guidance_scale}
    motions = gen.generate_many(texts, lengths, seed=seed, **kw)
    g_emb, _ = embed_clips(ev, motions)
    report_gen = _set_metrics(g_emb, t_emb, gt_emb)
    report_gen["physical"] = summarise_physical([m.numpy() for m in motions])
    k = min(mm_texts, len(texts))
    say(f"multimodality: {k} texts x {mm_repeats} seeds")
    mm_kw = dict(kw, temperature=mm_temperature)  # a deterministic model differs between seeds only by its noise
    groups = [embed_clips(ev, gen.generate_many(texts[:k], lengths[:k], seed=seed + 1 + r, **mm_kw))[0]
              for r in range(mm_repeats)]
    report_gen["multimodality"] = t2m.multimodality(np.stack(groups, axis=1)) if mm_repeats > 1 else None

    sweep = sweep_prompts(phrasings)
    say(f"prompt sweep: {len(sweep)} prompts x {sweep_seeds} seeds")
    frames = int(round(sweep_seconds * FPS_DEFAULT))
    sweep_motions, sweep_labels = [], []
    for r in range(sweep_seeds):
        sweep_motions += gen.generate_many([p for _, p in sweep], [frames] * len(sweep), seed=seed + 100 + r, **kw)
        sweep_labels += [a for a, _ in sweep]
    gt_sweep = ground_truth_sweep(seconds=sweep_seconds, seed=seed)
    report = {
        "checkpoint": str(checkpoint), "data": str(data), "evaluator": str(ev_path),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"clips": len(ds), "max_seconds": MAX_SECONDS, "seed": seed, "temperature": temperature, "mm_temperature": mm_temperature,
                     "guidance_scale": gen.resolve_guidance(guidance_scale, []),
                     "weights": getattr(gen, "weights", "float32"), "step": getattr(gen, "step", "eager"), "mm_texts": k, "mm_repeats": mm_repeats,
                     "keep_bone_lengths": bool(gen.model.cfg.keep_bone_lengths),
                     "min_bone_share": float(gen.model.cfg.min_bone_share),
                     "refined": gen.will_refine(None, []),
                     "sweep_prompts": len(sweep), "sweep_seeds": sweep_seeds, "sweep_seconds": sweep_seconds,
                     "r_precision_chance": t2m.r_precision_chance(len(ds)).tolist()},
        "ground_truth": report_gt, "generated": report_gen,
        "prompt_following": {"generated": prompt_following(ev, sweep_motions, sweep_labels),
                             "ground_truth": prompt_following(ev, *gt_sweep),
                             "prompts": [p for _, p in sweep]},
    }
    if output:
        atomic_write_text(output, json.dumps(report, indent=2))
    return report
