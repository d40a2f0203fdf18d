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

from .critic import SafetyCritic, SafetyCriticConfig, SafetyResult
from .errors import ConfigError
from .schema import JOINT_INDEX, NUM_ACTIONS
from .skeleton import joints_to_segments, segments_to_joints
from .synth import derive_physics
from .train.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # longer requests are clamped (and the result says so)
MIN_FRAMES = 1


class InferenceGenerator:
    def __init__(self, model_path: str | Path, device: str = "auto", enable_safety_check: bool = False,
                 safety_config: SafetyCriticConfig | None = None, encoder=None) -> None:
        from .train.trainer import model_from_checkpoint, pick_device

        model, self.config = model_from_checkpoint(load_checkpoint(model_path))
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        if encoder is None:
            from .embedding import TextEncoder

            encoder = TextEncoder(self.config.embedding.model)
        if encoder.dim != model.embedding_dim:
            raise ConfigError(f"{model_path}: the model takes {model.embedding_dim}-dim text embeddings but "
                              f"{encoder.name} gives {encoder.dim}-dim ones")
        self.encoder = encoder
        self.enable_safety_check = enable_safety_check
        self.critic = SafetyCritic(safety_config)
        self.checkpoint = str(model_path)

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(self, prompt: Any, seconds: float = 5.0, fps: int = 25, seed: int | None = None,
                 use_cache: bool = True, temperature: float = 0.0) -> dict[str, Any]:
        """``motion`` [T, 48], ``actions`` [T], ``physics`` [T, 6], ``notes`` and, when enabled,
        ``safety``. Bad inputs are normalised with a note instead of failing."""
        notes: list[str] = []
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
        motion, logits = self._rollout(text, T, use_cache, temperature, g)
        m = motion[0].cpu().numpy()
        joints = segments_to_joints(m)
        joints[:, 0] = 0.5 * (joints[:, JOINT_INDEX["l_hip"]] + joints[:, JOINT_INDEX["r_hip"]])
        m = joints_to_segments(joints)
        out = {"prompt": prompt, "seconds": T / fps, "fps": fps, "frames": T,
               "motion": torch.from_numpy(m), "actions": logits[0, :, :NUM_ACTIONS].argmax(-1).cpu(),
               "physics": torch.from_numpy(derive_physics(joints[:, 0], fps)), "notes": notes,
               "checkpoint": self.checkpoint}
        if self.enable_safety_check:
            is_safe, result = self.check_motion_safety(out["motion"], out["physics"], prompt)
            out["safety"] = result.to_dict()
            out["is_safe"] = is_safe
        return out

    def _rollout(self, text: torch.Tensor, T: int, use_cache: bool, temperature: float,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        frames = torch.zeros(1, T, 48, device=self.device)
        actions = torch.zeros(1, T, dtype=torch.long, device=self.device)
        logits = torch.zeros(1, T, model.action_head.out_features, device=self.device)
        cache = [{} for _ in model.blocks] if use_cache else None
        empty = torch.zeros(1, 0, 48, device=self.device)
        out = model(text, empty, cache=cache, start=0)
        for t in range(T):
            pose = out["pose"][:, -1]
            if temperature > 0:
                pose = pose + temperature * torch.randn(pose.shape, generator=g).to(pose.device)
            frames[:, t], logits[:, t] = pose, out["action_logits"][:, -1]
            actions[:, t] = logits[:, t, :NUM_ACTIONS].argmax(-1)  # slots past the vocabulary are unused
            if t == T - 1:
                break
            if use_cache:
                out = model(None, frames[:, t: t + 1], actions[:, t: t + 1], self._camera(frames[:, t: t + 1]),
                            cache=cache, start=t + 1, prev_pose=frames[:, t: t + 1])
            else:  # the reference's way: the whole prefix again for every frame
                out = model(text, frames[:, : t + 1], actions[:, : t + 1], self._camera(frames[:, : t + 1]))
        return frames, logits

    @staticmethod
    def _camera(frames: torch.Tensor) -> torch.Tensor:
        """A steady camera on the figure (x of the pelvis, height 1, zoom 1), as in training data."""
        cam = torch.ones(*frames.shape[:2], 3, device=frames.device)
        cam[..., 0] = 0.5 * (frames[..., 44] + frames[..., 46])
        return cam

    # ------------------------------------------------------------------ safety
    def check_motion_safety(self, motion, physics=None, prompt: str | None = None) -> tuple[bool, SafetyResult]:
        """(is_safe, SafetyResult) of any motion, as the spec's section 7.4."""
        result = self.critic.evaluate(motion, physics, prompt, source="generated")
        return result.is_safe, result


def save_generation(result: dict[str, Any], path: str | Path) -> Path:
    """Write a generation as a one-sample dataset file (loads with load_dataset)."""
    from .io import save_dataset

    sample = {"description": result["prompt"], "motion": result["motion"], "actions": result["actions"],
              "physics": result["physics"], "camera": np.zeros(0), "source": "generated",
              "meta": {"checkpoint": result["checkpoint"], "notes": result["notes"], "fps": result["fps"]}}
    sample.pop("camera")
    if "safety" in result:
        sample["meta"]["safety"] = result["safety"]
    save_dataset([sample], path)
    return Path(path)
