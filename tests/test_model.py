"""The transformer: shapes, causality, KV cache, parameter counts."""

import pytest
import torch

from stickgen_core.config import load_config
from stickgen_core.model import StickFigureTransformer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = StickFigureTransformer(load_config("configs/small.yaml").model, embedding_dim=384).eval()
    torch.nn.init.normal_(m.pose_head.weight, std=0.02)  # a trained head is not zero
    return m


def inputs(B=2, T=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, 384, generator=g), torch.randn(B, T - 1, 48, generator=g),
            torch.randint(0, 16, (B, T - 1), generator=g), torch.randn(B, T - 1, 3, generator=g))


def test_shapes_and_size(model):
    out = model(*inputs())
    assert out["pose"].shape == (2, 24, 48) and out["action_logits"].shape == (2, 24, 64)  # model.num_actions slots
    assert out["physics"].shape == (2, 24, 6)
    assert 3e6 < model.num_parameters() < 8e6


@pytest.mark.parametrize("k", [0, 5, 17])
def test_changing_frame_k_leaves_earlier_predictions_unchanged(model, k):
    text, motion, actions, camera = inputs()
    before = model(text, motion, actions, camera)
    changed = motion.clone()
    changed[:, k] += 1.0
    after = model(text, changed, actions, camera)
    for key in ("pose", "action_logits", "physics"):
        # output i predicts frame i from tokens of frames < i: outputs 0..k never see frame k
        assert torch.equal(before[key][:, : k + 1], after[key][:, : k + 1]), key
        assert not torch.allclose(before[key][:, k + 1:], after[key][:, k + 1:]), key


def test_kv_cache_matches_full_pass(model):
    text, motion, actions, camera = inputs(T=30)
    full = model(text, motion, actions, camera)
    cache = [{} for _ in model.blocks]
    outs = [model(text, motion[:, :4], actions[:, :4], camera[:, :4], cache=cache, start=0)]
    for t in range(4, motion.shape[1]):
        outs.append(model(None, motion[:, t:t + 1], actions[:, t:t + 1], camera[:, t:t + 1], cache=cache,
                          start=t + 1, prev_pose=motion[:, t:t + 1]))
    for key in full:
        step = torch.cat([o[key] for o in outs], dim=1)
        assert (step - full[key]).abs().max() <= 1e-5, key


def test_embedding_dim_auto_needs_the_encoder_dim():
    cfg = load_config("configs/small.yaml").model
    with pytest.raises(ValueError, match="embedding_dim"):
        StickFigureTransformer(cfg)
    assert StickFigureTransformer(cfg, embedding_dim=1024).text_proj.in_features == 1024


def test_kv_cache_matches_full_pass_with_text_at_every_layer():
    """adaLN + guidance rows + root velocity + clock: the steps reuse the text's cached scales and shifts."""
    torch.manual_seed(0)
    m = StickFigureTransformer(load_config("configs/small_t2m.yaml").model, embedding_dim=384).eval()
    for p in (m.pose_head.weight, m.null_text, *(b.modulation.weight for b in m.blocks)):
        torch.nn.init.normal_(p, std=0.05)  # trained values are not zero
    text, motion, actions, camera = inputs(T=30)
    keep, total = torch.tensor([True, False]), torch.tensor([40, 40])
    with torch.no_grad():
        full = m(text, motion, actions, camera, text_keep=keep, total=total)
        cache = [{} for _ in m.blocks]
        outs = [m(text, motion[:, :4], actions[:, :4], camera[:, :4], cache=cache, start=0, text_keep=keep, total=total)]
        for t in range(4, motion.shape[1]):
            outs.append(m(text, motion[:, t:t + 1], actions[:, t:t + 1], camera[:, t:t + 1], cache=cache, start=t + 1,
                          prev_pose=motion[:, t:t + 1], before=motion[:, t - 1:t], text_keep=keep, total=total))
        other = m(text.flip(0), motion, actions, camera, text_keep=keep, total=total)
    assert (full["pose"] - other["pose"]).abs().max() > 1e-3  # the text matters, so the check below means something
    for key in full:
        step = torch.cat([o[key] for o in outs], dim=1)
        assert (step - full[key]).abs().max() <= 1e-5, key
