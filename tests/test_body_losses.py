"""Training sees the body (issue 32): the attachment and joint-limit losses are 0 on a clean clip, grow
with a detached arm / a knee bent the wrong way, and hold the same gap ``anatomy.measure`` reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stickgen_core import anatomy
from stickgen_core.anatomy import BodyReach
from stickgen_core.config import LossWeights
from stickgen_core.train.data import Batch
from stickgen_core.train.losses import attachment_gaps, attachment_loss, compute_losses, joint_limit_loss
from tests.test_critic_anatomy import detach_arm, side_on_knee, walk


def t(m: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(m, np.float32))[None]


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return walk()


def mask_of(m: torch.Tensor) -> torch.Tensor:
    return torch.ones(m.shape[:2], dtype=torch.bool)


def test_gaps_are_anatomy_measures(clean):
    x = anatomy.measure(detach_arm(clean, 0.3))
    got = attachment_gaps(t(detach_arm(clean, 0.3)))[0].numpy() * x.scale[..., None]
    np.testing.assert_allclose(got, x.gap, atol=1e-4)


def test_attachment_is_zero_on_a_clean_clip_and_grows_with_a_detached_arm(clean):
    target = t(clean)
    m = mask_of(target)
    assert float(attachment_loss(target, target, m)) == 0.0
    losses = [float(attachment_loss(t(detach_arm(clean, d)), target, m)) for d in (0.1, 0.2, 0.4, 0.8)]
    assert 0 < losses[0] < losses[1] < losses[2] < losses[3]
    # past the reach the gap counts on top of the offsets: an arm 0.8 m out costs more than offsets alone
    none = BodyReach(shoulder_gap=1e6, hip_gap=1e6)
    assert losses[3] > float(attachment_loss(t(detach_arm(clean, 0.8)), target, m, none)) * 1.2


def test_reach_boundary(clean):
    """A prediction whose shoulder gap sits at the reach pays only the offsets; one step past, the gap too."""
    target = t(clean)
    m = mask_of(target)
    pred = t(detach_arm(clean, 0.25))
    worst = float((attachment_gaps(pred)[0, :, 0] * float(anatomy.measure(clean).scale[0])).max())
    at = BodyReach(shoulder_gap=worst, hip_gap=1e6)
    past = BodyReach(shoulder_gap=worst * 0.99, hip_gap=1e6)
    none = BodyReach(shoulder_gap=1e6, hip_gap=1e6)
    offsets = float(attachment_loss(pred, target, m, none))
    assert float(attachment_loss(pred, target, m, at)) == pytest.approx(offsets, rel=1e-5)
    assert float(attachment_loss(pred, target, m, past)) > offsets * (1 + 1e-5)


def test_joint_limit_is_zero_on_a_clean_clip_and_grows_with_a_wrong_bend():
    good = t(side_on_knee(50.0))
    m = mask_of(good)
    assert float(joint_limit_loss(good, good, m)) == 0.0
    assert float(joint_limit_loss(t(side_on_knee(20.0)), good, m)) == 0.0     # less bent, the right way: fine
    wrong = [float(joint_limit_loss(t(side_on_knee(-b)), good, m)) for b in (10.0, 30.0, 60.0)]
    assert 0 < wrong[0] < wrong[1] < wrong[2]


def test_the_weights_turn_the_terms_on(clean):
    target = t(clean[:20])
    moved = t(detach_arm(clean[:20], 0.5))

    class Fake(torch.nn.Module):  # a model whose prediction is fixed
        def forward(self, text, inputs, actions, camera, **kw):
            return {"pose": moved}

    B, T = target.shape[:2]
    batch = Batch(torch.zeros(B, 4), target, torch.zeros(B, T, dtype=torch.long), torch.zeros(B, T, 6),
                  torch.zeros(B, T, 3), torch.ones(B, T, dtype=torch.bool), torch.zeros(B, dtype=torch.long),
                  torch.full((B,), T))
    off = compute_losses(Fake(), batch, LossWeights(temporal=0, action=0, physics=0))
    assert "attachment" not in off and "joint_limit" not in off
    on = compute_losses(Fake(), batch, LossWeights(temporal=0, action=0, physics=0, attachment=2.0, joint_limit=3.0))
    a, j = float(on["attachment"]), float(on["joint_limit"])
    assert a > 0
    assert float(on["total"]) == pytest.approx(float(on["pose"]) + 2.0 * a + 3.0 * j)
