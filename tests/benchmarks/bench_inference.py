"""Inference benchmark: 10 s generation with and without KV cache, with diffusion refinement (idle and
beside one busy neighbour process), critic ms per clip, eval wall time.

    python tests/benchmarks/bench_inference.py [--checkpoint runs/pre/checkpoints/model_checkpoint_best.pth]

Baseline (issue 6): the reference re-runs its model over the growing prefix for every
frame: 3.4 s per 250-frame clip for the small model on this machine class. Aim: <= 250 ms.
Without --checkpoint a small-config model with random weights is timed (speed does not
depend on the weights); with one, the whole default adversarial evaluation is timed too.
Refinement (issue 15): the same model with the default diffusion refiner, 10 s generated with
and without it; aim: refined <= 2x the transformer alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stickgen_core.config import load_config
from stickgen_core.critic import SafetyCritic
from stickgen_core.inference import InferenceGenerator
from stickgen_core.model import StickFigureTransformer
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train.checkpoint import save_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import busy_neighbour, goal_table  # noqa: E402

REFERENCE_MS = 3400.0
AIM_MS = 250.0
GUIDED_AIM_MS = 500.0
# issue 16: before it, 2 threads: 458 ms idle, 14,875 ms beside one busy process; critic 2.7 / 33 ms per clip
TODAY_MS, TODAY_BUSY_MS = 458.0, 14_875.0
TODAY_CRITIC_MS, TODAY_CRITIC_BUSY_MS = 2.7, 33.0


class _FixedEncoder:
    """Speed does not depend on the text: a constant 384-dim vector keeps the encoder out of the timing."""

    name, dim = "fixed", 384

    def encode(self, texts, progress=None):
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def _time_10s(gen: InferenceGenerator, repeats: int, **kw) -> list[float]:
    """Milliseconds of each of ``repeats`` 10 s generations, after a warm-up."""
    gen.generate("warm up", seconds=1, **kw)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        gen.generate("A person walks to the right.", seconds=10, **kw)
        times.append((time.perf_counter() - t) * 1000)
    return times


_FIRST_CLIP = """
import sys, time, numpy as np
t0 = time.perf_counter()
from stickgen_core.inference import InferenceGenerator
class E:
    name, dim = "fixed", 384
    def encode(self, texts, progress=None):
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)
gen = InferenceGenerator(sys.argv[1], device="cpu", encoder=E(), weights=sys.argv[2], compile_step=True)
t = time.perf_counter()
out = gen.generate("A person walks to the right.", seconds=10)
print(out["step"], time.perf_counter() - t)
"""


def _first_clip_seconds(ck: Path, weights: str, cache_dir: str | None) -> float:
    """Seconds to a fresh process's first compiled 10 s clip (the compilation included); ``cache_dir``:
    inductor's disk cache (None: the user's own, warm after earlier runs; a new folder: cold)."""
    import os
    import subprocess

    env = dict(os.environ)
    if cache_dir:
        env["TORCHINDUCTOR_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", _FIRST_CLIP, str(ck), weights], env=env, capture_output=True,
                         text=True, timeout=900, check=False)
    step, seconds = out.stdout.split()[-2:]
    if step != "compiled":
        raise SystemExit(f"the compiled step did not run: {out.stderr[-2000:]}")
    return float(seconds)


def _refine_rows(tmp: Path, repeats: int) -> list[tuple[str, float, float]]:
    """(load, ms without refinement, ms with it) for 10 s clips of the small config + default refiner."""
    cfg = load_config("configs/small.yaml", overrides={"diffusion": {"enabled": True},
                                                        "loss_weights": {"diffusion": 1.0}})
    ck = tmp / "refined.pth"
    save_checkpoint(ck, {"epoch": 0, "global_step": 0, "config": cfg.to_dict(), "embedding_dim": 384,
                         "model_state_dict": StickFigureTransformer(cfg.model, 384, cfg.diffusion).state_dict()})
    gen = InferenceGenerator(ck, device="cpu", encoder=_FixedEncoder())
    rows = []
    for load in ("idle", "busy neighbour"):
        with busy_neighbour() if load != "idle" else tempfile.TemporaryDirectory():
            off = statistics.median(_time_10s(gen, repeats, refine=False))
            on = statistics.median(_time_10s(gen, repeats, refine=True))
        rows.append((load, off, on))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("configs/small.yaml")
        model = StickFigureTransformer(cfg.model, 384)
        ck = Path(tmp) / "small.pth"
        save_checkpoint(ck, {"epoch": 0, "global_step": 0, "model_state_dict": model.state_dict(),
                             "config": cfg.to_dict(), "embedding_dim": 384})
        gen = InferenceGenerator(ck, device="cpu", encoder=_FixedEncoder())
        gen8 = InferenceGenerator(ck, device="cpu", encoder=_FixedEncoder(), weights="int8")
        genc = InferenceGenerator(ck, device="cpu", encoder=_FixedEncoder(), compile_step=True)
        gen8c = InferenceGenerator(ck, device="cpu", encoder=_FixedEncoder(), weights="int8", compile_step=True)
        cached, cached8 = _time_10s(gen, args.repeats), _time_10s(gen8, args.repeats)
        cachedc, cached8c = _time_10s(genc, args.repeats), _time_10s(gen8c, args.repeats)
        with busy_neighbour():
            cached_busy, cached8_busy = _time_10s(gen, args.repeats), _time_10s(gen8, args.repeats)
            cached8c_busy = _time_10s(gen8c, args.repeats)
        first_cold = _first_clip_seconds(ck, "int8", str(Path(tmp) / "inductor-cold"))
        first_warm = _first_clip_seconds(ck, "int8", None)
        t = time.perf_counter()
        gen.generate("A person walks to the right.", seconds=10, use_cache=False)
        no_cache = (time.perf_counter() - t) * 1000
        # issue 14: adaLN text conditioning, root-relative inputs, clock, bone constraints, guidance 2 (batched)
        full = load_config("configs/small.yaml", overrides={
            "model": {"text_conditioning": "adaln", "root_relative": True, "time_conditioning": True,
                      "keep_bone_lengths": True}, "training": {"text_dropout": 0.1}})
        ck2 = Path(tmp) / "guided.pth"
        save_checkpoint(ck2, {"epoch": 0, "global_step": 0, "config": full.to_dict(), "embedding_dim": 384,
                              "model_state_dict": StickFigureTransformer(full.model, 384).state_dict()})
        guided = _time_10s(InferenceGenerator(ck2, device="cpu", encoder=_FixedEncoder()), args.repeats)
        guided8 = _time_10s(InferenceGenerator(ck2, device="cpu", encoder=_FixedEncoder(), weights="int8"), args.repeats)
        guided8c = _time_10s(InferenceGenerator(ck2, device="cpu", encoder=_FixedEncoder(), weights="int8",
                                                compile_step=True), args.repeats)
        with busy_neighbour():
            guided8c_busy = _time_10s(InferenceGenerator(ck2, device="cpu", encoder=_FixedEncoder(), weights="int8",
                                                         compile_step=True), args.repeats)
        refine_rows = _refine_rows(Path(tmp), args.repeats)
    clips = generate_dataset(100, seed=0, config=SynthConfig(min_seconds=10, max_seconds=10, defect_rate=0.2))
    critic = SafetyCritic()
    critic.evaluate(clips[0]["motion"], clips[0]["physics"])
    t = time.perf_counter()
    for s in clips:
        critic.evaluate(s["motion"], s["physics"], s["description"], source=s["source"])
    critic_ms = (time.perf_counter() - t) * 1000 / len(clips)
    with busy_neighbour():
        t = time.perf_counter()
        for s in clips:
            critic.evaluate(s["motion"], s["physics"], s["description"], source=s["source"])
        critic_busy_ms = (time.perf_counter() - t) * 1000 / len(clips)
    med = statistics.median(cached)
    print(f"\nsmall config ({model.num_parameters() / 1e6:.2f} M parameters), 250 frames, CPU, {args.threads} threads\n")
    print(f"| {'measure':40} | {'ms':>9} | {'reference':>9} | {'x faster':>8} |")
    print(f"|{'-' * 42}|{'-' * 11}|{'-' * 11}|{'-' * 10}|")
    print(f"| {'generate 10 s, KV cache (median)':40} | {med:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / med:8.1f} |")
    print(f"| {'generate 10 s, no cache (whole prefix)':40} | {no_cache:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / no_cache:8.1f} |")
    g = statistics.median(guided)
    print(f"| {'10 s, adaLN+guidance 2+bones+clock (med)':40} | {g:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / g:8.1f} |")
    m8, g8 = statistics.median(cached8), statistics.median(guided8)
    print(f"| {'generate 10 s, KV cache, int8 weights':40} | {m8:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / m8:8.1f} |")
    print(f"| {'10 s, adaLN+guidance 2+..., int8 weights':40} | {g8:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / g8:8.1f} |")
    mc, m8c, g8c = statistics.median(cachedc), statistics.median(cached8c), statistics.median(guided8c)
    print(f"| {'10 s, KV cache, compiled step':40} | {mc:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / mc:8.1f} |")
    print(f"| {'10 s, KV cache, int8 + compiled step':40} | {m8c:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / m8c:8.1f} |")
    print(f"| {'10 s, adaLN+guidance 2+..., int8+compiled':40} | {g8c:9.1f} | {REFERENCE_MS:9.0f} | {REFERENCE_MS / g8c:8.1f} |")
    print(f"| {'first compiled clip, new process, cold':40} | {first_cold * 1000:9.0f} | {'':9} | {'':8} |")
    print(f"| {'first compiled clip, new process, warm':40} | {first_warm * 1000:9.0f} | {'':9} | {'':8} |")
    print(f"| {'aim for the KV-cache row':40} | {AIM_MS:9.0f} | {'':9} | {'':8} |")
    print(f"| {'aim with guidance on (issue 14)':40} | {GUIDED_AIM_MS:9.0f} | {'':9} | {'':8} |")
    print(f"| {'safety critic per 250-frame clip':40} | {critic_ms:9.2f} | {'':9} | {'':8} |")
    print("\ndiffusion refinement (default refiner: window 64, 4 DDIM steps), 10 s clip, median ms\n")
    print(f"| {'load':16} | {'transformer':>11} | {'+ refine':>9} | {'ratio':>6} | {'aim':>6} |")
    print(f"|{'-' * 18}|{'-' * 13}|{'-' * 11}|{'-' * 8}|{'-' * 8}|")
    for load, off, on in refine_rows:
        print(f"| {load:16} | {off:11.1f} | {on:9.1f} | {on / off:6.2f} | {'<= 2':>6} |")
    busy = statistics.median(cached_busy)
    print("\nissue 16 (today = before it, same machine class, 2 threads)\n")
    print(goal_table([
        ("generate 10 s, KV cache, ms (median)", "idle", TODAY_MS, AIM_MS, med, False),
        ("generate 10 s, KV cache, ms (aim: <= 2x idle)", "one busy neighbour", TODAY_BUSY_MS, 2 * med, busy, False),
        ("generate 10 s, KV cache, int8 weights (--weights int8)", "idle", TODAY_MS, AIM_MS, m8, False),
        ("generate 10 s, KV cache, int8 weights (--weights int8)", "one busy neighbour", TODAY_BUSY_MS, 2 * m8,
         statistics.median(cached8_busy), False),
        ("generate 10 s, int8 + compiled step (--weights int8 --compile)", "idle", TODAY_MS, AIM_MS, m8c, False),
        ("generate 10 s, int8 + compiled step (--weights int8 --compile)", "one busy neighbour", TODAY_BUSY_MS,
         2 * m8c, statistics.median(cached8c_busy), False),
        ("generate 10 s, guidance on (issue 14), int8 weights", "idle", float("nan"), GUIDED_AIM_MS, g8, False),
        ("generate 10 s, guidance on (issue 14), int8 + compiled step", "idle", float("nan"), GUIDED_AIM_MS, g8c,
         False),
        ("generate 10 s, guidance on (issue 14), int8 + compiled step", "one busy neighbour", float("nan"),
         GUIDED_AIM_MS, statistics.median(guided8c_busy), False),
        ("safety critic ms per 250-frame clip", "idle", TODAY_CRITIC_MS, TODAY_CRITIC_MS, critic_ms, False),
        ("safety critic ms per 250-frame clip (aim: <= 2x idle)", "one busy neighbour", TODAY_CRITIC_BUSY_MS,
         2 * critic_ms, critic_busy_ms, False)], why={
        "generate 10 s, KV cache, ms (median)":
            "today's 458 ms was 2 threads; rollouts now run on 1 (2 threads were 13x slower beside a busy "
            "process). A one-token step is ~4 ms: ~60 % streaming the 19 MB of block weights per token (the matrix-"
            "vector products run at ~5-8 GB/s on one core; the weights do not stay in this CPU's shared 32 MB L3), the "
            "rest ~1,000 small op dispatches (rope, cache writes, norms, bones). Tried: int8 dynamic quantisation "
            "(2.7 ms/step, deprecated torch.ao API, other numbers), bf16 blocks (-15 %), weight @ x.T (no gain). "
            "Int8 block weights and a compiled frame step are switches (next rows: together they meet the aim); the "
            "default stays float32 eager because int8 moves the motion (below) and compiling costs a C++ compiler "
            "and seconds per process.",
        "generate 10 s, KV cache, int8 weights (--weights int8)":
            "int8 weights take the block matmuls from ~2.6 to ~0.5 ms per step (torch._weight_int8pack_mm, bf16 "
            "rows); what is left is op dispatch (~1.5 ms per step: norms, rope, cache writes, dtype casts). Not the "
            "default: on the GPU-trained G2 model the prompt-following rate fell from 0.78 to 0.73 (R-precision "
            "top-3 0.484 both, FID 0.470 -> 0.481). The compiled step (next rows) takes the dispatches.",
        "generate 10 s, int8 + compiled step (--weights int8 --compile)":
            "one compiled function per frame (static K/V buffers, written-out attention, the guidance and bone "
            "steps fused in, inductor's C++ wrapper); what is left is the int8 matmuls (~0.4-0.8 ms per frame, "
            "with the machine's speed) and dynamo's call overhead (~0.1-0.3 ms). "
            "The first clip of a process compiles (the 'first compiled clip' rows above); not the default for "
            "that reason and because it needs a C++ compiler.",
        "generate 10 s, guidance on (issue 14), int8 + compiled step":
            "two row sets (text and null text) through one compiled step; bone rebuild and clock included.",
        "generate 10 s, guidance on (issue 14), int8 weights":
            "both guidance passes run batched, so the weights stream once per step; the dispatch floor stays.",
        "generate 10 s, KV cache, ms (aim: <= 2x idle)":
            "beside a busy process only one core is free, so the floor is the one-thread time; when two idle "
            "threads are ~2x faster than one, 2x idle is the best a 2-core machine can give.",
        "safety critic ms per 250-frame clip": "one thread per call (a 2-thread pool stalls beside a busy process and "
            "would make verdicts depend on the load); the rest is per-issue Python (frame ranges, descriptions)."}))
    if args.checkpoint:
        from stickgen_core.evaluation import run_adversarial_eval

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            report = run_adversarial_eval(args.checkpoint, None, tmp)
            wall = time.perf_counter() - t
        print(f"\nwhole default eval: {report['overall']['prompts']} prompts in {wall:.1f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
