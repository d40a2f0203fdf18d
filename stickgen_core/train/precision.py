"""The training step's number format: bfloat16 autocast where the hardware runs it natively.

On the CPU a bfloat16 step is only faster with native bf16 matmuls (x86 AVX512-BF16 or AMX,
Arm BF16); elsewhere oneDNN emulates them and the small config's step went from ~1 s to ~13 s.
So a CPU run asked for ``bfloat16`` falls back to float32 there, and says so once in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)

#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic: x86 AVX512-BF16 / AMX, Arm BF16.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
_CPUINFO_LIMIT = 1 << 20  # the flags sit in the first processor's block; a bounded read is plenty


def cpuinfo_flags(path: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first processor's ``flags`` (x86) or ``Features`` (Arm) words; empty where there is no such file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(_CPUINFO_LIMIT)
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def cpu_bf16_native(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU computes bfloat16 natively: torch's own probe where it has one, else the CPU flags."""
    if flags is None:
        probes = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        if any(p is not None and p() for p in probes):
            return True
        flags = cpuinfo_flags()
    return bool(BF16_FLAGS & flags)


def effective_precision(precision: str, device_type: str, native_bf16: bool) -> str:
    """``float32`` or ``bfloat16``: what a step asked for ``precision`` runs in on ``device_type``.

    ``auto`` is bfloat16 on CUDA and float32 on the CPU; ``bfloat16`` on a CPU without native bf16
    falls back to float32 (emulated bf16 is ~10x slower there, and no more accurate)."""
    if precision == "auto":
        return "bfloat16" if device_type == "cuda" else "float32"
    if precision == "bfloat16" and device_type == "cpu" and not native_bf16:
        return "float32"
    return precision


def autocast_for(precision: str, device: torch.device) -> torch.autocast:
    """The training step's autocast for ``training.precision`` on ``device`` (see ``effective_precision``)."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    native = kind == "cuda" or cpu_bf16_native()
    used = effective_precision(precision, kind, native)
    if used != precision and precision != "auto":
        log.info("training.precision %s: this CPU has no native bfloat16 (avx512_bf16/amx_bf16/bf16), "
                 "so the step runs in float32 (emulated bfloat16 is ~10x slower)", precision)
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=used == "bfloat16")
