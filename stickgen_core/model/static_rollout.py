"""The KV-cached rollout with fixed-size buffers and one compiled function per generated frame.

An eager CPU step of the small model is ~150 small op dispatches (norms, rotary, cache writes,
guidance, the skeleton rebuild) around 30 matrix-vector products: with int8 weights the products
take ~0.4 ms of a ~2 ms step and the dispatches the rest. Compiled with ``torch.compile``
(inductor), a whole frame — the next pose from the last token's outputs, then that pose's token
through every block — becomes a few fused C++ loops around the matmuls. Compiling needs inputs
whose shapes never change within a clip, so the K/V cache is preallocated for the whole clip
(``StaticCache``), attention masks the positions not written yet, and the position is a tensor.
Attention is written out (scores, masked softmax, values) rather than SDPA: over one query the
fused form is faster than SDPA with a mask (10 s clip: 270-298 vs 334-386 ms in one window).

``frame_from_outputs`` (guidance, noise, bone lengths, the action choice) is shared with the eager
loop of ``inference``, so the two agree by construction; a test compares whole rollouts. With float32
weights they agree to float rounding; with int8 weights the fused code's float rounding can flip an
activation's bf16 rounding before the int8 matmul, which compounds over a clip (measured: ~0.2x int8's
own difference from float32 on the small config).
"""

from __future__ import annotations

import logging
import math
import threading

import torch

from ..schema import NUM_ACTIONS
from .constraints import keep_skeleton, reference_lengths
from .features import steady_camera
from .transformer import StickFigureTransformer, apply_rope

log = logging.getLogger(__name__)

# torch's guard-skipping stance is process-wide, not per thread: while one rollout skips guards, another
# thread's first (checked) frames would skip them too, and a graph that thread needed would be an error.
# Compiled rollouts therefore take turns (a 2-core CPU gains nothing from running two at once).
_ROLLOUT_LOCK = threading.Lock()
# graphs this process may keep for the frame step: one per batch size, guidance on/off, bones, plan and
# model shape. torch's default of 8 per function was reached by one evaluation session of a planner model.
RECOMPILE_LIMIT = 64


def frame_from_outputs(pose_rows: torch.Tensor, logit_rows: torch.Tensor, batch: int, guidance: float | torch.Tensor,
                       noise: torch.Tensor | None, bones: torch.Tensor | None, min_share: float,
                       plan_t: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pose ``[B, 48]``, logits, action ``[B]``) of the next frame from the model's last-token outputs.

    With guidance the rows are ``[text rows; null-text rows]`` and each value is
    ``cond + scale * (cond - uncond)``; ``noise`` is added (temperature), the pose is rebuilt with
    ``bones`` (when given) and the action is the plan's, else the most likely one.
    """
    pose, logit = pose_rows, logit_rows
    if pose_rows.shape[0] == 2 * batch:
        pose = pose_rows[:batch] + guidance * (pose_rows[:batch] - pose_rows[batch:])
        logit = logit_rows[:batch] + guidance * (logit_rows[:batch] - logit_rows[batch:])
    if noise is not None:
        pose = pose + noise
    if bones is not None:
        pose = keep_skeleton(pose, bones, min_share)
    # slots past the vocabulary are unused; a plan, when there is one, decides the action input
    action = logit[:, :NUM_ACTIONS].argmax(-1) if plan_t is None else plan_t
    return pose, logit, action


class StaticCache:
    """Per-block key/value buffers ``[rows, heads, frames + 1, head_dim]`` for one clip, seeded with
    the text prefix's entries of an eager cache (position 0)."""

    def __init__(self, model: StickFigureTransformer, eager_cache: list[dict], rows: int, length: int) -> None:
        cfg = model.cfg
        heads, head_dim = cfg.n_heads, cfg.d_model // cfg.n_heads
        dtype, device = eager_cache[0]["k_buf"].dtype, eager_cache[0]["k_buf"].device
        self.keys, self.values = [], []
        for c in eager_cache:
            k = torch.zeros(rows, heads, length + 1, head_dim, dtype=dtype, device=device)
            v = torch.zeros_like(k)
            k[:, :, :1], v[:, :, :1] = c["k_buf"][:, :, :1], c["v_buf"][:, :, :1]
            self.keys.append(k)
            self.values.append(v)
        # each block's text scales and shifts (adaLN), made once by the prefix call
        self.modulation = [c.get("modulation") for c in eager_cache]


def token_step(model: StickFigureTransformer, prev: torch.Tensor, before: torch.Tensor, action: torch.Tensor,
               pos: torch.Tensor, total: torch.Tensor, keys: list[torch.Tensor], values: list[torch.Tensor],
               modulation: list, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The token of frame ``pos - 1`` (``prev`` ``[B, 48]``, the frame ``before`` it, its ``action``)
    through the model at position ``pos`` (a 1-element tensor): (pose rows, action-logit rows) of the
    frame after it. Writes the token's keys and values into ``keys``/``values`` at ``pos``."""
    cfg = model.cfg
    rows = keys[0].shape[0]
    heads, head_dim, d = cfg.n_heads, cfg.d_model // cfg.n_heads, cfg.d_model
    dup = rows // prev.shape[0]
    new = prev.repeat(dup, 1)[:, None]
    frame = (pos - 1).view(1, 1).expand(rows, 1)
    x = model.tokens(None, new, action.repeat(dup)[:, None], steady_camera(new), before.repeat(dup, 1)[:, None],
                     frame, total)
    c, s = cos.index_select(0, pos), sin.index_select(0, pos)
    hidden = torch.arange(keys[0].shape[2], device=pos.device) > pos  # positions not written yet
    scale = 1.0 / math.sqrt(head_dim)
    for i, block in enumerate(model.blocks):
        h = block.norm1(x)
        mod = modulation[i]
        if mod is not None:
            h = h * (1 + mod[0]) + mod[1]
        qkv = block.attn.qkv(h).view(rows, 1, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(qkv[:2], c, s).unbind(0)
        keys[i].index_copy_(2, pos, k)
        values[i].index_copy_(2, pos, qkv[2])
        scores = (q @ keys[i].transpose(-1, -2)) * scale
        out = scores.masked_fill(hidden, float("-inf")).softmax(-1) @ values[i]
        x = x + block.attn.proj(out.transpose(1, 2).reshape(rows, 1, d))
        h2 = block.norm2(x)
        if mod is not None:
            h2 = h2 * (1 + mod[2]) + mod[3]
        x = x + block.mlp(h2)
    h = model.norm(x)
    return (new + model.pose_head(h))[:, 0], model.action_head(h)[:, 0]


def _frame_step(model: StickFigureTransformer, prev, before, action, pos, total, keys, values, modulation, cos, sin,
                guidance, noise, bones, min_share: float, plan_t):
    """One generated frame: the previous frame's token through the model, then the next frame from it."""
    pose_rows, logit_rows = token_step(model, prev, before, action, pos, total, keys, values, modulation, cos, sin)
    return frame_from_outputs(pose_rows, logit_rows, prev.shape[0], guidance, noise, bones, min_share, plan_t)


def _fresh(x: torch.Tensor) -> torch.Tensor:
    """A copy with the default strides (``contiguous()`` keeps a size-1 dimension's odd stride, and
    dynamo checks strides: another stride would be another graph)."""
    return x.clone(memory_format=torch.contiguous_format)


class CompiledRollout:
    """The rollout of ``inference`` as one compiled function per frame (``torch.compile``, inductor).

    The first clip of each batch size compiles (seconds; inductor keeps its kernels in a disk cache,
    so a later process mostly re-traces). The clip length is a dynamic dimension: one compilation
    serves every length. Within a clip every call has the same shapes and dtypes, so after the
    first frame the guards that check them are skipped (``skip_guard_eval_unsafe``): on one
    thread they cost about as much as the frame itself.
    """

    def __init__(self, model: StickFigureTransformer) -> None:
        import torch._dynamo

        self.model = model
        cfg = torch._dynamo.config
        name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"  # renamed in torch 2.6
        setattr(cfg, name, max(getattr(cfg, name), RECOMPILE_LIMIT))
        self.cpp_wrapper = True
        self._step = self._compiled(cpp_wrapper=True)

    @staticmethod
    def _compiled(cpp_wrapper: bool):
        # the generated wrapper in C++, without size asserts: in Python it checked ~130 sizes and strides
        # and made ~50 buffers per frame, about as long as the frame's own kernels (measured 340 -> 200 ms
        # for a 10 s clip, int8, small config)
        return torch.compile(_frame_step, fullgraph=True,
                             options={"cpp_wrapper": cpp_wrapper, "size_asserts": False})

    def rollout(self, text_rows: torch.Tensor, keep: torch.Tensor | None, total: torch.Tensor, batch: int, length: int,
                guidance: float, temperature: float, g: torch.Generator, plan: torch.Tensor | None,
                keep_bones: bool, min_share: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``[B, length, 48]`` and action logits of ``batch`` clips (rows: text rows, then the
        null-text rows when ``guidance``); the same answer as the eager loop within float rounding
        (float32 weights; with int8 ones see the README)."""
        args = (text_rows, keep, total, batch, length, guidance, temperature, g, plan, keep_bones, min_share)
        with _ROLLOUT_LOCK, torch.inference_mode():
            state = g.get_state()
            try:
                return self._rollout(*args)
            except Exception as e:  # noqa: BLE001 - the C++ wrapper needs Python's headers too: try without it
                if not self.cpp_wrapper:
                    raise
                log.info("inductor's C++ wrapper failed (%s: %s): compiling with its Python wrapper",
                         type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")
                self.cpp_wrapper, self._step = False, self._compiled(cpp_wrapper=False)
                g.set_state(state)
                return self._rollout(*args)

    def _rollout(self, text_rows, keep, total, batch, length, guidance, temperature, g, plan, keep_bones, min_share):
        model = self.model
        dev = text_rows.device
        rows = text_rows.shape[0]
        eager_cache: list[dict] = [{} for _ in model.blocks]
        out = model(text_rows, torch.zeros(rows, 0, 48, device=dev), cache=eager_cache, start=0,
                    text_keep=keep, total=total)
        cache = StaticCache(model, eager_cache, rows, length)
        for buf in cache.keys + cache.values:
            torch._dynamo.mark_dynamic(buf, 2)
        cos, sin = model._rope(length + 1, dev)
        frames = torch.zeros(batch, length, 48, device=dev)
        actions = torch.zeros(batch, length, dtype=torch.long, device=dev)
        logits = torch.zeros(batch, length, model.action_head.out_features, device=dev)
        scale = torch.tensor(float(guidance), device=dev)
        zero_noise = torch.zeros(batch, 48, device=dev)

        def noise() -> torch.Tensor:
            if temperature > 0:  # drawn in the eager loop's order, so a seed gives the same clip
                return temperature * torch.randn((batch, 48), generator=g).to(dev)
            return zero_noise

        pose, logit, action = frame_from_outputs(out["pose"][:, -1], out["action_logits"][:, -1], batch, scale,
                                                 noise() if temperature > 0 else None, None, min_share,
                                                 None if plan is None else plan[:, 0])
        bones = None
        if keep_bones:  # the first frame, once connected (raw endpoints need not meet), sets them
            pose = keep_skeleton(pose, reference_lengths(pose), min_share)
            bones = reference_lengths(pose)
        frames[:, 0], logits[:, 0], actions[:, 0] = pose, logit, action
        # the step's inputs are the last results themselves, not slices of ``frames`` or the plan (their
        # strides follow the clip length) nor one tensor twice (aliased inputs): either would be a new graph
        prev, before, action = _fresh(pose), _fresh(pose), _fresh(action)
        for t in range(1, length):
            args = (model, prev, before, action, torch.tensor([t], device=dev), total, cache.keys, cache.values,
                    cache.modulation, cos, sin, scale, noise(), bones, float(min_share),
                    None if plan is None else _fresh(plan[:, t]))
            if t <= 2:  # checked (and compiled when new): the first step's inputs come from the eager prefix
                pose, logit, action = self._step(*args)
            else:
                with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
                    pose, logit, action = self._step(*args)
            frames[:, t], logits[:, t], actions[:, t] = pose, logit, action
            prev, before = pose, prev
        return frames, logits

