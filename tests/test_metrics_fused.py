"""The fused metric passes and batched clip preparation give the numbers of the straightforward code.

``tests/metrics_reference.py`` is the metrics module as it was before the passes were fused
(issue 16); the per-clip ``content_length`` / ``clip_figure_height`` are the reference for
their batched forms. Synthetic clips (defects, multi-actor, mixed lengths and fps, every
ground mode) and the real clips of ``../shared/data`` (BVH captures, reference Stick-Gen files).
"""

from pathlib import Path

import numpy as np
import pytest
import torch

import tests.metrics_reference as ref
from stickgen_core import metrics
from stickgen_core.clip_prep import batch_content_prep, clip_figure_height, content_length, metre_scale, metre_scales
from stickgen_core.synth import SynthConfig, generate_sample

DATA = Path(__file__).parents[2] / "shared" / "data"


def _inputs(samples, module, ground):
    out = []
    for i, s in enumerate(samples):
        phys, cam, act = s.get("physics"), s.get("camera"), s.get("actions")
        g = ground if ground != "mixed" else (None, "auto", 0.0)[i % 3]
        out.append(module.ClipInput(s["motion"].numpy(), s.get("fps", 25) if i % 4 else 30,
                                    None if phys is None or i % 5 == 0 else phys.numpy(),
                                    None if cam is None else cam.numpy(), None if act is None else act.numpy(), g))
    return out


@pytest.fixture(scope="module")
def synthetic():
    cfg = SynthConfig(defect_rate=0.5, multi_actor_rate=0.2, min_seconds=0.2, max_seconds=12)
    clips = [generate_sample(i, seed=5, config=cfg) for i in range(60)]
    # a clip padded by repeating its last frame, and a two-frame clip
    m = clips[0]["motion"]
    padded = {"motion": torch.cat([m, m[-1:].expand(40, *m.shape[1:])])}
    short = {"motion": clips[1]["motion"][:2]}
    return clips + [padded, short]


def _real():
    from stickgen_core.convert import convert_file
    out = []
    for p in sorted((DATA / "bvh").glob("*.bvh")):
        out += convert_file(p, "bvh")
    for name in ("ref_sample_60.pt",):
        f = DATA / "reference" / name
        if f.exists():
            out += [s for s in torch.load(f, weights_only=True)]
    return out


def _assert_same(new: dict, old: dict) -> None:
    assert new.keys() == old.keys()
    for k in old:
        np.testing.assert_allclose(new[k], old[k], rtol=2e-5, atol=1e-6, equal_nan=True, err_msg=k)


@pytest.mark.parametrize("ground", [None, "auto", 0.0, "mixed"])
def test_clip_metrics_equal_the_straightforward_code_on_synthetic_clips(synthetic, ground):
    _assert_same(metrics.compute_metrics(_inputs(synthetic, metrics, ground)),
                 ref.compute_metrics(_inputs(synthetic, ref, ground)))


@pytest.mark.shared_data("bvh")
def test_clip_metrics_equal_the_straightforward_code_on_real_clips():
    real = _real()
    assert len(real) >= 4
    for ground in ("auto", None):
        _assert_same(metrics.compute_metrics(_inputs(real, metrics, ground)),
                     ref.compute_metrics(_inputs(real, ref, ground)))


def test_frame_signals_equal_the_straightforward_code(synthetic):
    for s in synthetic[:12] + synthetic[-2:]:
        new = metrics.clip_frame_signals(metrics.ClipInput(s["motion"].numpy(), ground="auto"))
        old = ref.clip_frame_signals(ref.ClipInput(s["motion"].numpy(), ground="auto"))
        _assert_same(new, old)


def test_batched_clip_preparation_equals_the_per_clip_functions(synthetic):
    real = _real() if (DATA / "bvh").exists() else []
    motions = [np.asarray(s["motion"], dtype=np.float32) for s in synthetic + real]
    min_motion = np.array([25 if i % 2 else 30 for i in range(len(motions))])
    kept, heights = batch_content_prep(motions, min_motion)
    assert kept.tolist() == [content_length(m, int(k)) for m, k in zip(motions, min_motion)]
    assert heights.tolist() == [clip_figure_height(m) for m in motions]
    assert kept[len(synthetic) - 2] <= len(synthetic[0]["motion"]) + 1  # the padding is left out
    probe = np.concatenate([heights, [0.0, np.nan, np.inf, 1.1, 2.1, 3.0, 170.0]])
    assert metre_scales(probe).tolist() == [metre_scale(h) for h in probe]
