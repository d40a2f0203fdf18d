"""Text -> motion with a trained checkpoint, optionally judged by the safety critic.

Generation is autoregressive: the text prefix predicts frame 0, each frame predicts the
next. With the KV cache (default) every step runs one new token through the model; the
reference re-ran the whole growing prefix for every frame. Outputs are snapped to a
connected v3 skeleton and physics is derived from the generated pelvis path.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .critic import GENERATED_GROUND, SafetyCritic, SafetyCriticConfig, SafetyResult
from .errors import ConfigError
from .model.action_plan import CHECKPOINT_KEY as PLANNER_KEY
from .model.action_plan import ActionPlanner
from .model.constraints import keep_skeleton, reference_lengths
from .model.features import steady_camera
from .model.static_rollout import CompiledRollout, frame_from_outputs
from .schema import JOINT_INDEX, NUM_ACTIONS
from .skeleton import joints_to_segments, segments_to_joints
from .synth import derive_physics
from .threads import threads_for
from .train.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # longer requests are clamped (and the result says so)
MIN_FRAMES = 1
DEFAULT_GUIDANCE = 2.0  # classifier-free guidance scale of models trained with text dropout


class InferenceGenerator:
    def __init__(self, model_path: str | Path, device: str = "auto", enable_safety_check: bool = False,
                 safety_config: SafetyCriticConfig | None = None, encoder=None,
                 guidance_scale: float | None = None, keep_bone_lengths: bool | None = None,
                 refine: bool = True, plan_actions: bool = True, min_bone_share: float | None = None,
                 weights: str = "float32", compile_step: bool = False) -> None:
        from .model.int8_weights import check_weight_format, quantize_linears
        from .model.loading import model_from_checkpoint, pick_device

        ck = load_checkpoint(model_path)
        model, self.config = model_from_checkpoint(ck, model_path)
        # int8 weights run on the CPU only: "auto" means the CPU then, even where a GPU is free
        self.device = pick_device("cpu" if weights == "int8" and device == "auto" else device)
        self.weights = check_weight_format(weights, self.device)
        self.model = model.to(self.device).eval()
        if self.weights == "int8":  # a CPU step is bound by streaming the weights: a quarter of the bytes
            quantize_linears(self.model.blocks)  # not the refiner: it runs ~500-row matmuls, where int8 is slower
        if encoder is None:
            from .embedding import TextEncoder

            encoder = TextEncoder(self.config.embedding.model)
        if encoder.dim != model.embedding_dim:
            raise ConfigError(f"{model_path}: the model takes {model.embedding_dim}-dim text embeddings but "
                              f"{encoder.name} gives {encoder.dim}-dim ones")
        self.encoder = encoder
        # the text's action plan in place of the model's own action guesses (when the checkpoint has one)
        self.planner = None
        if plan_actions and model.action_emb is not None and PLANNER_KEY in ck:
            self.planner = ActionPlanner.from_checkpoint(ck[PLANNER_KEY], str(model_path)).to(self.device)
            if self.planner.shape.embedding_dim != model.embedding_dim:
                raise ConfigError(f"{model_path}: its action planner takes {self.planner.shape.embedding_dim}-dim text "
                                  f"but the model {model.embedding_dim}-dim")
        self.enable_safety_check = enable_safety_check
        # a generated clip stands on y = 0 by construction: judge it there, not on a floor read from the
        # clip (a figure that sinks stays sunk); "auto" is for data from elsewhere
        self.critic = SafetyCritic(safety_config or SafetyCriticConfig(ground=GENERATED_GROUND))
        self.checkpoint = str(model_path)
        if keep_bone_lengths is not None:  # an inference-time choice: any checkpoint can have it on or off
            model.cfg.keep_bone_lengths = bool(keep_bone_lengths)
        if min_bone_share is not None:
            if isinstance(min_bone_share, bool) or not isinstance(min_bone_share, (int, float)) \
                    or not 0.0 <= float(min_bone_share) <= 1.0:
                raise ConfigError(f"min_bone_share {min_bone_share!r}: expected a share between 0 and 1")
            model.cfg.min_bone_share = float(min_bone_share)
            if not model.cfg.keep_bone_lengths:
                log.warning("min_bone_share %.2f has no effect: this generation does not keep bone lengths "
                            "(model.keep_bone_lengths false; --bones keep turns it on)", min_bone_share)
        # guidance by default only for models trained for it (text dropout); 0 = the conditional model alone
        trained_for_it = model.null_text is not None and self.config.training.text_dropout > 0
        self.guidance_scale = float(guidance_scale) if guidance_scale is not None else \
            (DEFAULT_GUIDANCE if trained_for_it else 0.0)
        self.refine = bool(refine)  # diffusion refinement after the rollout, when the checkpoint has the module
        # a compiled frame step (model/static_rollout.py): several times fewer op dispatches per frame on a CPU
        self.compiled: CompiledRollout | None = CompiledRollout(self.model) if compile_step else None
        self.compile_error: str | None = None
        self.last_step = "eager"  # how the latest rollout ran (short clips and no-cache runs are eager)

    @property
    def step(self) -> str:
        """How frames are generated: "compiled" or "eager" (the default, or after a failed compile)."""
        return "compiled" if self.compiled is not None else "eager"

    @property
    def has_refiner(self) -> bool:
        """Whether the checkpoint carries a diffusion refinement module."""
        return self.model.refiner is not None

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(self, prompt: Any, seconds: float = 5.0, fps: int = 25, seed: int | None = None,
                 use_cache: bool = True, temperature: float = 0.0,
                 guidance_scale: float | None = None, refine: bool | None = None, image: Any = None,
                 camera: Any = None) -> dict[str, Any]:
        """``motion`` [T, 48], ``actions`` [T], ``physics`` [T, 6], ``notes``, ``refined`` and, when
        enabled, ``safety``. Bad inputs are normalised with a note instead of failing. ``guidance_scale``
        (classifier-free guidance) and ``refine`` (diffusion refinement) default to the generator's.
        ``image`` (a PNG path or an image in memory, with ``camera`` ``x,y,z,tx,ty,tz,fov``): the motion starts
        from the pictured pose, for checkpoints trained with images (``parallax.picture``)."""
        notes: list[str] = []
        picture = self.picture(image, camera, notes) if image is not None else None
        if prompt is None:
            prompt, _ = "", notes.append("prompt was None: generated from an empty prompt")
        elif not isinstance(prompt, str):
            prompt, _ = str(prompt), notes.append(f"prompt was a {type(prompt).__name__}: used its text form")
        if not prompt.strip():
            notes.append("empty prompt: the motion follows the model's unconditional prior")
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            seconds, _ = 5.0, notes.append("seconds was not a number: used 5.0")
        if not math.isfinite(seconds) or seconds > MAX_SECONDS:
            notes.append(f"seconds={seconds} clamped to the maximum of {MAX_SECONDS:g}")
            seconds = MAX_SECONDS
        fps = int(fps) if fps and fps > 0 else 25
        T = int(round(seconds * fps))
        if T < MIN_FRAMES:
            notes.append(f"seconds={seconds} gives no frame: generated {MIN_FRAMES} frame")
            T = MIN_FRAMES
        g = torch.Generator(device="cpu").manual_seed(int(seed) if seed is not None else 0)
        text = torch.as_tensor(self.encoder.encode([prompt]), dtype=torch.float32).to(self.device)
        compiled = self.compiled is not None
        motion, logits = self._rollout(text, [T], use_cache, temperature, g,
                                       self.resolve_guidance(guidance_scale, notes), self._plan(text, [T]), picture)
        if compiled and self.compiled is None:
            notes.append(f"the compiled step failed ({self.compile_error}): generated with the eager step")
        if picture is not None and refine is None and self.will_refine(None, []):
            refine = False  # the refiner sees the text only: it would move the pictured start pose
            notes.append("not diffusion-refined: the refiner is text-only and would move the pictured start pose")
        refined = self.will_refine(refine, notes)
        if refined:
            motion = self.refined(motion, text, g)
        m = motion[0].cpu().numpy()
        joints = segments_to_joints(m)
        joints[:, 0] = 0.5 * (joints[:, JOINT_INDEX["l_hip"]] + joints[:, JOINT_INDEX["r_hip"]])
        m = joints_to_segments(joints)
        out = {"prompt": prompt, "seconds": T / fps, "fps": fps, "frames": T,
               "motion": torch.from_numpy(m), "actions": logits[0, :, :NUM_ACTIONS].argmax(-1).cpu(),
               "physics": torch.from_numpy(derive_physics(joints[:, 0], fps)), "notes": notes,
               "checkpoint": self.checkpoint, "refined": refined, "weights": self.weights, "step": self.last_step}
        if picture is not None:
            out["image"] = {"source": picture.source, "camera": picture.camera.reshape(-1).tolist(),
                            "camera_from": picture.camera_from}
        if self.enable_safety_check:
            is_safe, result = self.check_motion_safety(out["motion"], out["physics"], prompt)
            out["safety"] = result.to_dict()
            out["is_safe"] = is_safe
        return out

    @torch.inference_mode()
    def generate_many(self, prompts: list[str], frames: list[int], seed: int = 0, temperature: float = 0.0,
                      guidance_scale: float | None = None, batch_size: int = 64,
                      refine: bool | None = None, pictures: list | None = None) -> list[torch.Tensor]:
        """Motions ``[frames_i, 48]`` of many prompts, generated together in batches (for evaluation).
        Each row keeps its own length (clock), so a row equals its one-at-a-time generation.
        ``pictures``: one ``parallax.picture.Picture`` per prompt to start each motion from."""
        if pictures is not None:
            self._need_image_encoder()
            if len(pictures) != len(prompts):
                raise ConfigError(f"generate_many: {len(pictures)} pictures for {len(prompts)} prompts")
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        scale = self.resolve_guidance(guidance_scale, [])
        refine = self.will_refine(refine, [])
        out: list[torch.Tensor] = []
        for i in range(0, len(prompts), batch_size):
            text = torch.as_tensor(self.encoder.encode(list(prompts[i: i + batch_size])), dtype=torch.float32)
            lengths = [max(int(n), MIN_FRAMES) for n in frames[i: i + batch_size]]
            text = text.to(self.device)
            batch = None if pictures is None else _stack(pictures[i: i + batch_size])
            motion, _ = self._rollout(text, lengths, True, temperature, g, scale, self._plan(text, lengths), batch)
            if refine:
                motion = self.refined(motion, text, g)
            out.extend(motion[k, :n].cpu() for k, n in enumerate(lengths))
        return out

    def resolve_guidance(self, guidance_scale: float | None, notes: list[str]) -> float:
        """The guidance scale to use: the request, else the default; 0 for models without a null text."""
        scale = self.guidance_scale if guidance_scale is None else float(guidance_scale)
        if scale and self.model.null_text is None:
            notes.append("guidance needs a model trained with model.text_conditioning: adaln; generated unguided")
            return 0.0
        return scale

    def will_refine(self, refine: bool | None, notes: list[str]) -> bool:
        """Whether to refine: the request, else the generator's setting; never without the module."""
        want = self.refine if refine is None else bool(refine)
        if want and not self.has_refiner:
            if refine:  # asked for explicitly
                notes.append("this checkpoint has no diffusion refinement module: the motion is not refined")
            return False
        return want

    def refined(self, motion: torch.Tensor, text: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """The rollout ``[B, T, 48]`` after the diffusion refiner; bones kept again when the model keeps them."""
        out = self.model.refiner.refine(motion, text, g)
        if self.model.cfg.keep_bone_lengths:
            B, T, _ = out.shape
            bones = reference_lengths(motion[:, 0]).repeat_interleave(T, 0)
            out = keep_skeleton(out.reshape(B * T, 48), bones, self.model.cfg.min_bone_share).view(B, T, 48)
        return out

    def _need_image_encoder(self) -> None:
        if self.model.image_encoder is None:
            raise ConfigError(f"{self.checkpoint}: this checkpoint has no image encoder (it was trained without "
                              "data.use_parallax_augmentation); generate without an image, or train with one")

    def picture(self, image: Any, camera: Any = None, notes: list[str] | None = None):
        """``image`` (and ``camera``) read as this checkpoint's training read its renders (a ``Picture``)."""
        from .parallax.picture import load_picture

        self._need_image_encoder()
        pic = load_picture(image, self.config.data.parallax_image_size, camera)
        if pic.camera_from == "unknown" and notes is not None:
            notes.append("the image's camera is unknown (no --camera and no metadata.json beside it): the encoder "
                         "saw a zero camera, which it was not trained on")
        return pic

    def _plan(self, text: torch.Tensor, lengths: list[int]) -> torch.Tensor | None:
        return None if self.planner is None else self.planner.plan(text, lengths)

    def _rollout(self, text: torch.Tensor, lengths: list[int], use_cache: bool, temperature: float,
                 g: torch.Generator, guidance: float = 0.0, plan: torch.Tensor | None = None,
                 picture=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Autoregressive generation of ``len(lengths)`` clips of up to ``max(lengths)`` frames.

        With guidance the text rows and null-text rows run as one batch; each new pose is
        ``cond + scale * (cond - uncond)`` (scale 0: the conditional model alone). ``picture``: images
        and cameras ``[B, 1, ...]`` encoded into the conditioning of both kinds of row (as in training,
        where the image is added after text dropout)."""
        cfg = self.model.cfg
        rows = text.shape[0] * (2 if guidance else 1) * (1 if use_cache else max(lengths))
        work = rows * cfg.d_model * max(3 * cfg.d_model, cfg.ffn_dim)  # the largest matmul of a step
        with threads_for(work if self.device.type == "cpu" else float("inf")):
            return self._rollout_steps(text, lengths, use_cache, temperature, g, guidance, plan, picture)

    def _rollout_steps(self, text: torch.Tensor, lengths: list[int], use_cache: bool, temperature: float,
                       g: torch.Generator, guidance: float, plan: torch.Tensor | None = None,
                       picture=None) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        B, T, dev = text.shape[0], max(lengths), self.device
        rows = 2 * B if guidance else B
        keep = torch.arange(rows, device=dev) < B if guidance else None
        text_rows = text.repeat(rows // B, 1)
        total = torch.tensor(lengths, device=dev).repeat(rows // B)
        self.last_step = "eager"
        # the compiled step has no image input: a generation from a picture runs eagerly
        if self.compiled is not None and use_cache and T > 1 and picture is None:
            state = g.get_state()
            try:
                out = self.compiled.rollout(text_rows, keep, total, B, T, guidance, temperature, g, plan,
                                            model.cfg.keep_bone_lengths, model.cfg.min_bone_share)
                self.last_step = "compiled"
                return out
            except Exception as e:  # noqa: BLE001 - no compiler, an unsupported op: the eager loop still works
                self.compiled, self.compile_error = None, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
                log.warning("the compiled step failed (%s): generating with the eager step", self.compile_error)
                g.set_state(state)  # the eager loop draws the same noise the compiled one would have
        bones = None  # the clip's longest bone lengths, from its first frame
        frames = torch.zeros(B, T, 48, device=dev)
        actions = torch.zeros(B, T, dtype=torch.long, device=dev)
        logits = torch.zeros(B, T, model.action_head.out_features, device=dev)
        cache = [{} for _ in model.blocks] if use_cache else None
        dup = (lambda x: x.repeat(2, *([1] * (x.dim() - 1)))) if guidance else (lambda x: x)
        kw = {"text_keep": keep, "total": total}
        seen_image = {} if picture is None else {"image": dup(picture.image.to(dev)),
                                                 "image_camera": dup(picture.camera.to(dev))}
        out = model(text_rows, torch.zeros(rows, 0, 48, device=dev), cache=cache, start=0, **kw, **seen_image)
        for t in range(T):
            noise = temperature * torch.randn((B, 48), generator=g).to(dev) if temperature > 0 else None
            pose, logit, action = frame_from_outputs(out["pose"][:, -1], out["action_logits"][:, -1], B, guidance,
                                                     noise, bones, model.cfg.min_bone_share,
                                                     None if plan is None else plan[:, t])
            if model.cfg.keep_bone_lengths and bones is None:  # the first frame, once connected, sets them
                pose = keep_skeleton(pose, reference_lengths(pose), model.cfg.min_bone_share)
                bones = reference_lengths(pose)
            frames[:, t], logits[:, t], actions[:, t] = pose, logit, action
            if t == T - 1:
                break
            if use_cache:
                new = dup(frames[:, t: t + 1])
                before = dup(frames[:, t - 1: t]) if t > 0 else None
                out = model(text_rows, new, dup(actions[:, t: t + 1]), steady_camera(new), cache=cache, start=t + 1,
                            prev_pose=new, before=before, **kw)
            else:  # the reference's way: the whole prefix again for every frame
                seen = dup(frames[:, : t + 1])
                out = model(text_rows, seen, dup(actions[:, : t + 1]), steady_camera(seen), **kw, **seen_image)
        return frames, logits

    # ------------------------------------------------------------------ safety
    def check_motion_safety(self, motion, physics=None, prompt: str | None = None) -> tuple[bool, SafetyResult]:
        """(is_safe, SafetyResult) of any motion, as the spec's section 7.4."""
        result = self.critic.evaluate(motion, physics, prompt, source="generated")
        return result.is_safe, result


def _stack(pictures: list) -> Any:
    """Pictures of one batch as one (``image`` [B, 1, ...], ``camera`` [B, 1, 7])."""
    from .parallax.picture import Picture

    return Picture(torch.cat([p.image for p in pictures]), torch.cat([p.camera for p in pictures]), "batch", "batch")


def save_generation(result: dict[str, Any], path: str | Path) -> Path:
    """Write a generation as a one-sample dataset file (loads with load_dataset)."""
    from .io import save_dataset

    sample = {"description": result["prompt"], "motion": result["motion"], "actions": result["actions"],
              "physics": result["physics"], "camera": np.zeros(0), "source": "generated",
              "meta": {"checkpoint": result["checkpoint"], "notes": result["notes"], "fps": result["fps"]}}
    sample.pop("camera")
    if "safety" in result:
        sample["meta"]["safety"] = result["safety"]
    if "image" in result:  # the picture the motion started from, and its camera
        sample["meta"]["image"] = result["image"]
    save_dataset([sample], path)
    return Path(path)
