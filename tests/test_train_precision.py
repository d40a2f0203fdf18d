"""A CPU run asked for bfloat16 falls back to float32 where the CPU has no native bf16 (issue 32's recipe)."""

import logging

import pytest
import torch

from stickgen_core.train import precision as P


@pytest.mark.parametrize("asked, device, native, used", [
    ("bfloat16", "cpu", False, "float32"),   # emulated bf16: ~13 s a step instead of ~1 s
    ("bfloat16", "cpu", True, "bfloat16"),
    ("bfloat16", "cuda", False, "bfloat16"),
    ("float32", "cpu", True, "float32"),
    ("float32", "cuda", True, "float32"),
    ("auto", "cpu", True, "float32"),
    ("auto", "cuda", True, "bfloat16"),
])
def test_effective_precision(asked, device, native, used):
    assert P.effective_precision(asked, device, native) == used


def test_flags_decide_native_bf16(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512bw avx512_vnni\n\nprocessor\t: 1\nflags\t: avx512_bf16\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    assert P.cpu_bf16_native(P.cpuinfo_flags(x86)) is False  # only the first processor's block counts
    assert P.cpu_bf16_native(P.cpuinfo_flags(x86).union({"avx512_bf16"})) is True
    assert P.cpu_bf16_native(P.cpuinfo_flags(arm)) is True
    assert P.cpuinfo_flags(tmp_path / "missing") == frozenset()


def test_autocast_falls_back_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(P, "cpu_bf16_native", lambda flags=None: False)
    with caplog.at_level(logging.INFO, logger=P.__name__):
        amp = P.autocast_for("bfloat16", torch.device("cpu"))
    assert amp._enabled is False
    assert len(caplog.records) == 1 and "runs in float32" in caplog.records[0].getMessage()
    monkeypatch.setattr(P, "cpu_bf16_native", lambda flags=None: True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=P.__name__):
        amp = P.autocast_for("bfloat16", torch.device("cpu"))
    assert amp._enabled is True and amp.fast_dtype == torch.bfloat16 and not caplog.records
    assert P.autocast_for("auto", torch.device("cpu"))._enabled is False
