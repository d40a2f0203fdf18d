"""StickFigureTransformer: text-conditioned, causal, next-frame motion model (one readable file).

Sequence: [text prefix, m_0, m_1, ..., m_{T-2}] -> predictions of frames 0..T-1: the prefix
token predicts the first pose from the text alone, the token of frame t predicts frame
t+1. Attention is causal (SDPA ``is_causal``), so a prediction never sees the frame it
predicts. Right padding needs no extra mask: a valid query never attends to a later key.

Blocks are pre-norm with RMSNorm, SwiGLU feed-forward and rotary position embeddings.
Heads: next pose (a residual on the current pose), action logits and physics of the
predicted frame. ``forward(..., cache=...)`` appends keys/values for autoregressive use.

``text_conditioning: adaln`` also lets the text scale and shift both norms of every block
(zero-initialised, so training starts from the prefix-only model): attention cannot learn
to ignore it. ``text_keep`` False swaps a clip's text for a learned null text, which is
what classifier-free guidance trains and samples with. ``root_relative`` and
``time_conditioning`` add the inputs of ``features``. With ``diffusion.enabled`` the model also
holds ``refiner`` (``model/refiner.py``), which generation runs over the finished rollout.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DiffusionConfig, ModelConfig
from ..schema import FPS_DEFAULT
from .features import CLOCK_DIM, clock, pelvis_x, root_relative
from ..parallax.encoder import ImageEncoder
from .refiner import MotionRefiner


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)  # one kernel instead of five


def rope_tables(length: int, head_dim: int, base: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, device=device, dtype=torch.float32), inv)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (even, odd) of ``x`` [B, H, T, D] by the angles of their positions."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(qkv[:2], cos, sin).unbind(0)  # queries and keys rotated in one pass
        v = qkv[2]
        if cache is not None:
            k, v = _cache_append(cache, k, v)
        # new queries see every cached key plus the causal part of their own block
        causal = q.shape[2] > 1
        if causal and k.shape[2] != q.shape[2]:
            past = k.shape[2] - q.shape[2]
            mask = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=x.device).tril(past)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                 dropout_p=self.dropout if self.training else 0.0)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                 dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))


def _cache_append(cache: dict[str, Any], k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append this call's keys/values ``[B, H, T, D]`` to ``cache`` and return all of them so far.

    The buffers are preallocated (doubling when full), so a generation step writes one
    position instead of copying the whole growing cache as ``torch.cat`` did.
    """
    n, T = cache.get("n", 0), k.shape[2]
    buf_k = cache.get("k_buf")
    if buf_k is None or buf_k.shape[2] < n + T or buf_k.shape[0] != k.shape[0]:
        size = max(2 * (n + T), 64)
        new_k = k.new_empty(k.shape[0], k.shape[1], size, k.shape[3])
        new_v = v.new_empty(new_k.shape)
        if n:
            new_k[:, :, :n], new_v[:, :, :n] = cache["k_buf"][:, :, :n], cache["v_buf"][:, :, :n]
        cache["k_buf"], cache["v_buf"] = new_k, new_v
    cache["k_buf"][:, :, n: n + T] = k
    cache["v_buf"][:, :, n: n + T] = v
    cache["n"] = n + T
    return cache["k_buf"][:, :, : n + T], cache["v_buf"][:, :, : n + T]


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.down = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.down(F.silu(self.gate(x)) * self.up(x))
        return self.drop(out) if self.training else out


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = RMSNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.norm2 = RMSNorm(cfg.d_model)
        self.mlp = SwiGLU(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        # text -> (scale, shift) of both norms; zero-initialised by the model
        self.modulation = nn.Linear(cfg.d_model, 4 * cfg.d_model) if cfg.text_conditioning == "adaln" else None

    def forward(self, x, cos, sin, cache=None, cond=None):
        h1, h2 = self.norm1(x), None
        if self.modulation is not None:
            # the text is the same for every step of a generation: its scales and shifts are cached
            mod = None if cache is None else cache.get("modulation")
            if mod is None:
                mod = self.modulation(F.silu(cond)).unsqueeze(1).chunk(4, dim=-1)
                if cache is not None:
                    cache["modulation"] = mod
            s1, b1, s2, b2 = mod
            h1 = h1 * (1 + s1) + b1
        a = self.attn(h1, cos, sin, cache)
        x = x + (self.drop(a) if self.training else a)
        h2 = self.norm2(x)
        if self.modulation is not None:
            h2 = h2 * (1 + s2) + b2
        return x + self.mlp(h2)


class StickFigureTransformer(nn.Module):
    """Text embedding + motion so far -> next pose, its action and its physics."""

    def __init__(self, cfg: ModelConfig, embedding_dim: int | None = None,
                 diffusion: DiffusionConfig | None = None) -> None:
        super().__init__()
        emb = cfg.embedding_dim if isinstance(cfg.embedding_dim, int) else embedding_dim
        if emb is None:
            raise ValueError("model.embedding_dim is 'auto': pass the text encoder's dimension")
        self.cfg = cfg
        self.embedding_dim = int(emb)
        d = cfg.d_model
        self.text_proj = nn.Linear(self.embedding_dim, d)
        self.motion_in = nn.Linear(cfg.motion_dim, d)
        self.action_emb = nn.Embedding(cfg.num_actions, d) if cfg.action_conditioning else None
        self.camera_in = nn.Linear(cfg.camera_dim, d) if cfg.camera_conditioning else None
        self.root_in = nn.Linear(2, d) if cfg.root_relative else None
        self.clock_in = nn.Linear(CLOCK_DIM, d) if cfg.time_conditioning else None
        self.null_text = nn.Parameter(torch.zeros(d)) if cfg.text_conditioning == "adaln" else None
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(d)
        self.pose_head = nn.Linear(d, cfg.motion_dim)
        self.action_head = nn.Linear(d, cfg.num_actions)
        self.physics_head = nn.Linear(d, cfg.physics_dim)
        # frame 0 is predicted as a change from a typical first pose (set from the training data)
        self.register_buffer("start_pose", torch.zeros(cfg.motion_dim))
        self._register_load_state_dict_pre_hook(self._keep_start_pose)
        self.apply(self._init)
        for name, p in self.named_parameters():  # scaled residual projections (GPT-2)
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layers))
        nn.init.zeros_(self.pose_head.weight)  # start as "the next pose is this pose"
        nn.init.zeros_(self.pose_head.bias)
        for block in self.blocks:
            if block.modulation is not None:
                nn.init.zeros_(block.modulation.weight)
                nn.init.zeros_(block.modulation.bias)
        # built last, so a model without it draws exactly the random numbers it always did
        self.refiner = MotionRefiner(diffusion, self.embedding_dim, cfg.motion_dim) \
            if diffusion is not None and diffusion.enabled else None
        # rendered frames + camera -> added to the text conditioning (stickgen_core/parallax); built after the
        # refiner for the same reason, and only when asked
        self.image_encoder = ImageEncoder(cfg.image_encoder_arch, d) if cfg.image_conditioning else None

    def _keep_start_pose(self, state_dict, prefix, *_args) -> None:
        """Checkpoints written before ``start_pose`` existed keep the current (data-derived) one."""
        state_dict.setdefault(prefix + "start_pose", self.start_pose.detach().clone())

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def model_args(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model."""
        return {"model": asdict(self.cfg), "embedding_dim": self.embedding_dim}

    def text_condition(self, text: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, E]`` text embeddings -> ``[B, d]``; rows where ``keep`` is False get the null text."""
        cond = self.text_proj(text)
        if keep is not None:
            if self.null_text is None:
                raise ValueError("this model has no null text (model.text_conditioning: prefix): "
                                 "text dropout and guidance need text_conditioning: adaln")
            cond = torch.where(keep[:, None], cond, self.null_text.to(cond.dtype))
        return cond

    def tokens(self, cond: torch.Tensor | None, motion: torch.Tensor, actions: torch.Tensor | None = None,
               camera: torch.Tensor | None = None, before: torch.Tensor | None = None,
               frame: torch.Tensor | None = None, total: torch.Tensor | None = None) -> torch.Tensor:
        """[text prefix (when ``cond`` is given)] + one token per motion frame."""
        if self.root_in is not None:
            rel, vel = root_relative(motion, before)
            x = self.motion_in(rel) + self.root_in(vel * FPS_DEFAULT)  # metres per frame -> m/s
            if camera is not None:  # the camera, too, relative to the figure
                camera = torch.cat([camera[..., :1] - pelvis_x(motion)[..., None], camera[..., 1:]], -1)
        else:
            x = self.motion_in(motion)
        if self.action_emb is not None and actions is not None:
            x = x + self.action_emb(actions.clamp(0, self.cfg.num_actions - 1))
        if self.camera_in is not None and camera is not None:
            x = x + self.camera_in(camera)
        if self.clock_in is not None and frame is not None and total is not None:
            x = x + self.clock_in(clock(frame, total))
        if cond is not None:
            x = torch.cat([cond.unsqueeze(1), x], dim=1)
        return x

    def forward(self, text: torch.Tensor | None, motion: torch.Tensor, actions: torch.Tensor | None = None,
                camera: torch.Tensor | None = None, cache: list[dict] | None = None, start: int = 0,
                prev_pose: torch.Tensor | None = None, *, text_keep: torch.Tensor | None = None,
                before: torch.Tensor | None = None, total: torch.Tensor | None = None,
                frame0: torch.Tensor | None = None, image: torch.Tensor | None = None,
                image_camera: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Predictions for the frame after each token.

        Training: ``text`` [B, E], ``motion`` [B, T-1, 48] (frames 0..T-2) -> outputs [B, T, ...]
        for frames 0..T-1. Generation: pass ``cache`` (a list, one dict per block), ``start``
        (tokens already cached) and only the new tokens; the text prefix goes in when
        ``start`` is 0. Prefix models accept ``text=None`` after the first call; adaln models
        need the text on every call. ``before``: the frame preceding ``motion`` (root-relative
        velocity); ``total``: [B] frames of the whole clip and ``frame0`` [B] the clip frame of
        the first prefix-free token (a training crop's start) for the clock. ``image`` [B, 3, H, W] or
        [B, L, 3, H, W] with ``image_camera`` [B, (L,) 7]: rendered frames whose encoding is added to the text's
        (``model.image_fusion: add``) or is one more token before it (``prefix``; needs the text prefix).
        """
        image_token = None  # model.image_fusion: prefix puts the image in a token before the text's
        if cache is not None and start > 0 and "cond" in cache[0]:
            cond = cache[0]["cond"]  # the text's projection, made on the first call of this generation
        else:
            cond = None if text is None else self.text_condition(text, text_keep)
            if cond is not None and image is not None:
                if self.image_encoder is None:
                    raise ValueError("this model has no image encoder (trained without data.use_parallax_augmentation)")
                seen = self.image_encoder(image.to(cond.dtype), image_camera)
                if self.cfg.image_fusion == "prefix":
                    image_token = seen
                else:
                    cond = cond + seen
            if cache is not None:  # a (new) text: the blocks' cached scales and shifts are made again
                cache[0]["cond"] = cond
                cache[0]["image_token"] = image_token is not None  # later positions move one on
                for c in cache:
                    c.pop("modulation", None)
        if self.null_text is not None and cond is None:
            raise ValueError("model.text_conditioning: adaln needs the text on every call")
        prefix = start == 0 and cond is not None
        first = start - 1 if start > 0 else 0  # frame index of the first motion token
        frame = None
        if total is not None:
            frame = (first + torch.arange(motion.shape[1], device=motion.device)).expand(motion.shape[0], -1)
            if frame0 is not None:
                frame = frame + frame0[:, None]
        x = self.tokens(cond if prefix else None, motion, actions, camera, before, frame, total)
        shifted = image_token is not None and prefix
        if shifted:
            x = torch.cat([image_token.unsqueeze(1), x], dim=1)
        pos = start + int(start > 0 and cache is not None and bool(cache[0].get("image_token")))
        T = x.shape[1]
        cos, sin = self._rope(pos + T, x.device)
        cos, sin = cos[pos: pos + T], sin[pos: pos + T]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, None if cache is None else cache[i], cond)
        h = self.norm(x[:, 1:] if shifted else x)  # the image token predicts nothing
        # the pose head predicts a change from the latest pose (``start_pose`` before the first frame)
        if prev_pose is None:
            start_pose = self.start_pose.to(motion.dtype).expand(motion.shape[0], 1, -1)
            prev_pose = torch.cat([start_pose, motion], dim=1) if prefix else motion
        return {"pose": prev_pose + self.pose_head(h), "action_logits": self.action_head(h),
                "physics": self.physics_head(h)}

    def _rope(self, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary tables for positions 0..length-1, computed once and grown when needed."""
        table = getattr(self, "_rope_table", None)
        if table is None or table[0].shape[0] < length or table[0].device != device:
            size = max(length, self.cfg.max_frames + 1)
            table = rope_tables(size, self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base, device)
            self._rope_table = table
        return table

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
