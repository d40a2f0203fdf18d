"""MotionRefiner: a denoising diffusion model that refines the transformer's coarse motion (spec §5).

What it diffuses is the *correction* ``clean - coarse`` over a window of frames, divided by
``diffusion.scale`` metres so the data it denoises is about unit-sized. The denoiser sees the
noisy correction, the coarse window (root-relative, plus the pelvis velocity, so a clip 10 m
to the right looks the same) and a condition made of the diffusion time and the text; it
predicts the clean correction (x0). Unlike the autoregressive transformer, it sees every
frame of its window at once, past and future, which is what lets it remove jitter and
sliding feet that one-frame-at-a-time prediction leaves behind.

Sampling is DDIM (deterministic, eta = 0) over ``diffusion.sampling_steps`` of the
``diffusion.timesteps`` training steps. A clip longer than the window is cut into windows
that overlap by half, all refined in one batch, and blended back with triangular weights.
Layers are named ``layers``/``out`` (not ``blocks``/``pose_head``) so the transformer's LoRA
targets do not catch them; add ``refiner`` to ``lora.target_modules`` to adapt it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DiffusionConfig
from ..schema import FPS_DEFAULT
from .features import root_relative


def noise_schedule(kind: str, steps: int) -> torch.Tensor:
    """``alpha_bar`` [steps]: the share of signal left at each diffusion step (cosine: Nichol & Dhariwal)."""
    if kind == "linear":
        betas = torch.linspace(1e-4, 0.02 * 1000 / steps, steps, dtype=torch.float64).clamp(max=0.999)
        return torch.cumprod(1 - betas, 0).float()
    s = 0.008
    t = torch.linspace(0, steps, steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


def _draw(fn, shape: tuple, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``fn`` (torch.rand / randn) from ``generator`` (a CPU one) or, without it, the global RNG of ``device``."""
    return fn(shape, device=device) if generator is None else fn(shape, generator=generator).to(device)


def sinusoid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``[...]`` positions or steps -> ``[..., dim]`` sine/cosine features."""
    freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, device=x.device, dtype=torch.float32) / (dim // 2))
    angles = x.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], -1)


class DenoiserLayer(nn.Module):
    """Pre-norm self-attention over the whole window (not causal) and an MLP, both scaled, shifted
    and gated by the condition (adaLN-zero, as DiT: a fresh layer is the identity)."""

    def __init__(self, d: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1, self.norm2 = nn.RMSNorm(d, eps=1e-6), nn.RMSNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        B, W, d = x.shape
        s1, b1, g1, s2, b2, g2 = self.modulation(F.silu(cond)).unsqueeze(1).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + s1) + b1
        q, k, v = self.qkv(h).view(B, W, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, W, d)
        x = x + g1 * self.proj(a)
        return x + g2 * self.mlp(self.norm2(x) * (1 + s2) + b2)


class MotionRefiner(nn.Module):
    """Noisy correction + coarse window + diffusion step + text -> the clean correction (x0)."""

    def __init__(self, cfg: DiffusionConfig, embedding_dim: int, motion_dim: int = 48) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.motion_dim = motion_dim
        # a temporal convolution in: neighbouring frames side by side is what smoothing needs first
        self.inp = nn.Conv1d(3 * motion_dim + 2, d, kernel_size=5, padding=2, padding_mode="replicate")
        self.text = nn.Linear(embedding_dim, d)
        self.step = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.layers = nn.ModuleList([DenoiserLayer(d, cfg.n_heads) for _ in range(cfg.n_layers)])
        self.norm = nn.RMSNorm(d, eps=1e-6)
        self.out = nn.Linear(d, motion_dim)
        nn.init.zeros_(self.out.weight)  # start as "no correction"
        nn.init.zeros_(self.out.bias)
        self.register_buffer("alpha_bar", noise_schedule(cfg.schedule, cfg.timesteps), persistent=False)

    def forward(self, noisy: torch.Tensor, step: torch.Tensor, coarse: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """``noisy`` [B, W, 48] scaled correction at diffusion ``step`` [B]; ``coarse`` [B, W, 48] metres;
        ``text`` [B, E] -> predicted clean scaled correction [B, W, 48]."""
        rel, vel = root_relative(coarse)
        x = torch.cat([noisy, rel, vel * FPS_DEFAULT, self.detail(coarse)], -1).transpose(1, 2)
        x = self.inp(x).transpose(1, 2)
        x = x + sinusoid(torch.arange(x.shape[1], device=x.device), x.shape[-1])
        cond = self.step(sinusoid(step, x.shape[-1])) + self.text(text)
        for layer in self.layers:
            x = layer(x, cond)
        return self.out(self.norm(x))

    def detail(self, coarse: torch.Tensor) -> torch.Tensor:
        """What the coarse motion holds beyond its 5-frame local mean, in units of ``scale``: jitter and
        sudden slips stand out here at the size of the corrections, not hidden in metres of position."""
        x = F.pad(coarse.transpose(1, 2), (2, 2), mode="replicate")
        return (coarse - F.avg_pool1d(x, 5, stride=1).transpose(1, 2)) / self.cfg.scale

    # ------------------------------------------------------------------ training
    def loss(self, coarse: torch.Tensor, clean: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising loss (MSE of the predicted clean correction) on one random window per clip.

        ``coarse`` and ``clean`` [B, T, 48], ``mask`` [B, T] real frames. The coarse motion gets
        Gaussian noise of a random size up to ``diffusion.coarse_noise`` metres, so the refiner
        also learns to remove jitter larger than the transformer shows with teacher forcing."""
        B, T, _ = clean.shape
        W = min(self.cfg.window, T)
        dev = clean.device
        n = mask.sum(1)
        start = (_draw(torch.rand, (B,), generator, dev) * (n - W + 1).clamp(min=1)).long()
        idx = (start[:, None] + torch.arange(W, device=dev)).clamp(max=T - 1)
        take = lambda x: torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[-1]))  # noqa: E731
        coarse_w, clean_w, m = take(coarse), take(clean), torch.gather(mask, 1, idx)
        shake = _draw(torch.rand, (B, 1, 1), generator, dev) * self.cfg.coarse_noise
        coarse_w = coarse_w + shake * _draw(torch.randn, coarse_w.shape, generator, dev)
        x0 = (clean_w - coarse_w) / self.cfg.scale
        step = (_draw(torch.rand, (B,), generator, dev) * self.cfg.timesteps).long().clamp(max=self.cfg.timesteps - 1)
        ab = self.alpha_bar[step][:, None, None]
        noise = _draw(torch.randn, x0.shape, generator, dev)
        pred = self(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, step, coarse_w, text)
        err = (pred - x0).pow(2).mean(-1)
        return (err * m).sum() / m.sum().clamp(min=1)

    # ------------------------------------------------------------------ sampling
    def sample_windows(self, coarse: torch.Tensor, text: torch.Tensor, noise: torch.Tensor,
                       steps: int | None = None) -> torch.Tensor:
        """DDIM (eta = 0) from ``noise`` [N, W, 48] to refined windows [N, W, 48] (metres)."""
        steps = max(1, min(int(steps or self.cfg.sampling_steps), self.cfg.timesteps))
        ts = torch.linspace(self.cfg.timesteps - 1, 0, steps).round().long().tolist()
        x = noise
        for i, t in enumerate(ts):
            step = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            x0 = self(x, step, coarse, text)
            if i == len(ts) - 1:
                x = x0
                break
            ab, ab_next = self.alpha_bar[t], self.alpha_bar[ts[i + 1]]
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return coarse + x * self.cfg.scale

    def refine(self, coarse: torch.Tensor, text: torch.Tensor, generator: torch.Generator | None = None,
               steps: int | None = None) -> torch.Tensor:
        """``coarse`` [B, T, 48] + ``text`` [B, E] -> refined [B, T, 48]: overlapping windows (hop W/2),
        one batch, blended with triangular weights. Overlapping windows share their noise."""
        B, T, D = coarse.shape
        W = min(self.cfg.window, T)
        hop = max(W // 2, 1)
        starts = list(range(0, T - W + 1, hop))
        if starts[-1] != T - W:
            starts.append(T - W)
        idx = torch.tensor(starts, device=coarse.device)[:, None] + torch.arange(W, device=coarse.device)  # [N, W]
        noise = _draw(torch.randn, (B, T, D), generator, coarse.device) * self.cfg.sampling_noise
        n = len(starts)
        windows = self.sample_windows(coarse[:, idx].reshape(B * n, W, D), text.repeat_interleave(n, 0),
                                      noise[:, idx].reshape(B * n, W, D), steps).view(B, n, W, D)
        ramp = 1 - (2 * (torch.arange(W, device=coarse.device) + 0.5) / W - 1).abs()  # triangle, > 0 everywhere
        out = torch.zeros_like(coarse).index_add_(1, idx.flatten(), (windows * ramp[:, None]).reshape(B, n * W, D))
        weight = torch.zeros(T, device=coarse.device).index_add_(0, idx.flatten(), ramp.repeat(n))
        return out / weight[None, :, None]
