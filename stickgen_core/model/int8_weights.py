"""Int8 weights for CPU generation: the transformer blocks' per-frame layers stored as int8, one scale per output.

One generated frame is a row vector through each linear layer: the step streams every weight from
memory once, so on a CPU it is bound by memory bandwidth, not arithmetic (fp32: ~7 GB/s on one
core of the development machine, 2.6 ms of each 3.8 ms step for the small config). Int8 weights
are a quarter of the bytes, and ``torch._weight_int8pack_mm`` (the kernel torchao and gpt-fast use
on CPU) multiplies a bf16 row by them 6x faster than fp32 ``linear`` there. torchao's own
int8-weight config was measured too: its tensor-subclass dispatch cost more than the kernel saved
for one-row inputs (88 us vs 23 us per 256 x 1024 layer), hence this small module.

Outputs differ from fp32 by the rounding of weights (per-channel symmetric, 127 levels) and of the
activations to bf16: about 1 % of a layer's output range. It is an inference-time choice that
never changes a checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

WEIGHT_FORMATS = ("float32", "int8")


# the kernel reads 16 inputs at a time with aligned loads: rows must be a multiple of 16 long (it read
# past the row, giving NaN or a crash, for 3, 17 or 683 inputs), so shorter rows are zero-padded
K_BLOCK = 16
MIN_IN_FEATURES = 64  # smaller layers stream a few KB: the conversions would cost more than they save


class Int8Linear(nn.Module):
    """``nn.Linear`` whose weight is int8 with a bf16 scale per output feature (inference only)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.pad = -self.in_features % K_BLOCK
        w = nn.functional.pad(linear.weight.detach().float(), (0, self.pad))
        # rounded with the scale as it is stored (bf16), so the stored pair multiplies back to the weight
        scale = (w.abs().amax(dim=1).clamp(min=1e-12) / 127.0).to(torch.bfloat16)
        q = torch.round(w / scale.float()[:, None]).clamp(-127, 127)
        self.register_buffer("weight", q.to(torch.int8).contiguous())
        self.register_buffer("scales", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        if self.pad:
            flat = nn.functional.pad(flat, (0, self.pad))
        # a fresh, aligned, row-major buffer, as the kernel's loads need
        flat = flat.to(torch.bfloat16, memory_format=torch.contiguous_format, copy=True)
        y = torch._weight_int8pack_mm(flat, self.weight, self.scales)
        y = y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, weight=int8"


# the per-frame matmuls of a transformer block (attention and SwiGLU): the adaLN modulation and the text
# projection run once per generation and the heads are small, so int8 there would only cost accuracy
STEP_LAYERS = ("qkv", "proj", "gate", "up", "down")


def quantize_linears(model: nn.Module, names: tuple[str, ...] | None = STEP_LAYERS) -> int:
    """Replace the ``nn.Linear`` layers called one of ``names`` (None: every one) with at least
    ``MIN_IN_FEATURES`` inputs inside ``model`` by ``Int8Linear``, in place; returns how many."""
    swapped = 0
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            if child.in_features >= MIN_IN_FEATURES and (names is None or name in names):
                setattr(model, name, Int8Linear(child))
                swapped += 1
        else:
            swapped += quantize_linears(child, names)
    return swapped


def check_weight_format(weights: str, device: torch.device | str) -> str:
    """``weights`` if this device can run it, else a ConfigError naming the option and the choices."""
    if weights not in WEIGHT_FORMATS:
        raise ConfigError(f"weights {weights!r}: expected one of {', '.join(WEIGHT_FORMATS)}")
    if weights == "int8" and torch.device(device).type != "cpu":
        raise ConfigError(f"weights 'int8' runs on the CPU only (the device is {device}); use float32 there")
    if weights == "int8" and not hasattr(torch, "_weight_int8pack_mm"):
        raise ConfigError(f"weights 'int8' needs torch 2.3 or newer (this is {torch.__version__}); use float32")
    return weights
