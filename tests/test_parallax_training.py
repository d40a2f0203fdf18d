"""Image-conditioned training: the encoder, batches with images, a tiny run, and the checkpoint reloaded."""

import json
import shutil

import numpy as np
import pytest
import torch

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.io import atomic_torch_save
from stickgen_core.model import StickFigureTransformer
from stickgen_core.model.loading import model_from_checkpoint
from stickgen_core.parallax.encoder import ImageEncoder
from stickgen_core.parallax.training import ParallaxBatch, ParallaxMotionData
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import LATEST, load_checkpoint

EMB = 16
TINY = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64, "dropout": 0.0},
        "training": {"epochs": 1, "batch_size": 4, "max_frames": 24, "warmup_steps": 1, "log_interval": 1,
                     "val_fraction": 0.25, "seed": 3, "action_plan": False, "report_to": []},
        "data": {"use_parallax_augmentation": True, "parallax_image_size": 24}}
VIEWS, STEPS = 2, 4


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdata")
    samples = generate_dataset(8, seed=4, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(0)
    for s in samples:
        s["embedding"] = torch.randn(EMB, generator=g)
    path = folder / "train_embedded.pt"
    atomic_torch_save({"sequences": samples, "embedding_model": "test", "embedding_dim": EMB}, path)
    render_dataset(samples, folder / "parallax", RenderSettings(views=VIEWS, frames_per_view=STEPS, size=24))
    return path, folder / "parallax", samples


def cfg_with(root, **data):
    merged = json.loads(json.dumps(TINY))
    merged["data"].update(parallax_root=str(root), **data)
    return load_config("configs/small.yaml", overrides=merged)


def open_data(cfg, path):
    tc = cfg.training
    return ParallaxMotionData(path, cfg.data, val_fraction=tc.val_fraction, seed=tc.seed, max_frames=tc.max_frames)


def test_encoder_shapes_starts_at_zero_and_averages_a_window():
    enc = ImageEncoder("cnn", 32)
    one, seq = torch.rand(2, 3, 24, 24), torch.rand(2, 3, 3, 24, 24)
    assert enc(one, torch.rand(2, 7)).shape == (2, 32) and enc(seq).shape == (2, 32)
    assert enc(one).abs().max() == 0  # zero-initialised last layer: the model starts as the text-only one
    torch.nn.init.normal_(enc.fuse[-1].weight)
    a, b = enc(seq[:, :1]), enc(seq)
    assert not torch.allclose(a, b)
    assert torch.allclose(enc(seq[:, [0, 0]]), a, atol=1e-5)  # a window of one image twice = that image


def test_the_spatial_cnn_tells_poses_apart_where_the_global_average_barely_does():
    """A figure covering a few percent of a picture: one global average of the last map hardly moves with the
    pose, an 8 x 8 grid of it does (why cnn_spatial exists; measured in README's image-following table)."""
    from stickgen_core.parallax.render import lift, render_frame

    samples = generate_dataset(2, seed=1, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    pose = torch.tensor([0.0, 0.9, 4.0, 0.0, 0.9, 0.0, 50.0])
    pics = torch.stack([torch.from_numpy(np.asarray(render_frame(lift(s["motion"].numpy()[:, None])[0], pose.numpy(),
                                                                 64), dtype=np.float32) / 255).permute(2, 0, 1)
                        for s in samples])
    torch.manual_seed(0)
    spread = {}
    for arch in ("cnn", "cnn_spatial"):
        feats = ImageEncoder(arch, 32).backbone(pics)
        spread[arch] = ((feats[0] - feats[1]).norm() / feats.norm(dim=1).mean()).item()
    assert spread["cnn_spatial"] > 3 * spread["cnn"]


def test_unknown_arch_and_missing_torchvision_are_config_errors():
    with pytest.raises(ConfigError, match="model.image_encoder_arch: expected one of cnn, cnn_spatial, resnet18"):
        ImageEncoder("vit_huge", 32)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="resnet18 needs torchvision, which is not installed"):
            ImageEncoder("resnet18", 32)
    else:
        assert ImageEncoder("resnet18", 32)(torch.rand(1, 3, 32, 32)).shape == (1, 32)


def test_the_image_reaches_the_prediction(data):
    cfg = cfg_with(data[1])
    cfg.model.image_conditioning = True
    model = StickFigureTransformer(cfg.model, EMB).eval()
    for layer in (model.image_encoder.fuse[-1], model.pose_head):  # both start at zero
        torch.nn.init.normal_(layer.weight)
    text, motion = torch.randn(1, EMB), torch.randn(1, 5, 48)
    g = torch.Generator().manual_seed(0)
    outs = [model(text, motion, image=torch.rand(1, 3, 24, 24, generator=g), image_camera=torch.zeros(1, 7))["pose"]
            for _ in range(2)]
    assert not torch.allclose(*outs)
    cfg.model.image_conditioning = False
    with pytest.raises(ValueError, match="no image encoder"):
        StickFigureTransformer(cfg.model, EMB)(text, motion, image=torch.zeros(1, 3, 24, 24))


def test_first_frame_batches_picture_the_crops_first_pose(data):
    path, root, samples = data
    d = open_data(cfg_with(root), path)
    batch = next(d.batches("train", 4, epoch=0, seed=3))
    assert isinstance(batch, ParallaxBatch) and batch.image.shape == (4, 1, 3, 24, 24)
    assert batch.image_camera.shape == (4, 1, 7)
    order, _ = d._order("train", 0, 3)
    for b, i in enumerate(order[:4]):
        f0 = int(batch.frame0[b])
        assert f0 in {f.motion_frame for v in d.views[i] for f in v}  # a rendered frame: the picture is the start
        assert torch.equal(batch.motion[b, 0], samples[i]["motion"][f0])
        assert int(batch.total[b]) == len(samples[i]["motion"])


@pytest.mark.parametrize("stride,starts", [(1, {0, 1, 2, 3}), (2, {0, 2}), (3, {0, 3})])
def test_sequence_windows_start_every_stride_steps(data, stride, starts):
    path, root, _ = data
    d = open_data(cfg_with(root, parallax_conditioning_mode="sequence", parallax_sequence_length=2,
                           parallax_sequence_stride=stride), path)
    d.max_frames = 1  # every rendered frame may start a crop
    i = d.train_idx[0]
    g = torch.Generator().manual_seed(0)
    picks = [d._pick(i, 10_000, g) for _ in range(60)]
    assert {w[0].step_index for w in picks} == starts
    assert all(w[1].step_index == min(w[0].step_index + 1, STEPS - 1) for w in picks)  # consecutive steps
    batch = next(d.batches("train", 4, epoch=0, seed=3))
    assert batch.image.shape == (4, 2, 3, 24, 24) and batch.image_camera.shape == (4, 2, 7)


def test_a_crop_starts_only_where_the_clip_still_fills_max_frames(data):
    path, root, samples = data
    d = open_data(cfg_with(root), path)
    i = d.train_idx[0]
    T, third = len(samples[i]["motion"]), d.views[i][0][2].motion_frame
    g = torch.Generator().manual_seed(0)
    d.max_frames = T - third  # at the boundary: step 2 may start a crop
    assert max(d._pick(i, T, g)[0].step_index for _ in range(60)) == 2
    d.max_frames = T - third + 1  # one frame more: it may not
    assert max(d._pick(i, T, g)[0].step_index for _ in range(60)) == 1


def test_bad_mode_missing_root_and_missing_renders_name_the_key(data, tmp_path):
    path, root, _ = data
    with pytest.raises(ConfigError, match="data.parallax_conditioning_mode: expected one of first_frame, sequence"):
        open_data(cfg_with(root, parallax_conditioning_mode="all_frames"), path)
    with pytest.raises(DatasetError, match="data.parallax_root: .* is not a folder"):
        open_data(cfg_with(tmp_path / "nowhere"), path)
    partial = tmp_path / "partial"
    shutil.copytree(root, partial)
    shutil.rmtree(partial / "sample_000005")
    with pytest.raises(DatasetError, match="data.parallax_root: .* no actor_0 renders of sample 5 \\(1 of the 8"):
        open_data(cfg_with(partial), path)


def test_renders_of_another_data_file_are_refused(data, tmp_path):
    path, root, samples = data
    other = generate_dataset(8, seed=9, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    render_dataset(other, tmp_path / "other", RenderSettings(views=1, frames_per_view=2, size=16))
    with pytest.raises(DatasetError, match="was rendered from clip .* the renders are of another data file"):
        open_data(cfg_with(tmp_path / "other"), path)


def test_tiny_parallax_run_trains_and_its_checkpoint_reloads_with_the_encoder(data, tmp_path):
    path, root, _ = data
    cfg = cfg_with(root)
    summary = train(cfg, resolve_sources(cfg, str(path), env={}), tmp_path / "run")
    assert summary["global_step"] >= 1
    losses = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert losses and all(torch.isfinite(torch.tensor(r["train_total"])) for r in losses if "train_total" in r)
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / LATEST)
    assert ck["config"]["model"]["image_conditioning"] and ck["config"]["data"]["use_parallax_augmentation"]
    enc = {k: v for k, v in ck["model_state_dict"].items() if k.startswith("image_encoder.")}
    assert enc and enc["image_encoder.fuse.2.weight"].abs().sum() > 0  # it trained (it started at zero)
    model, saved = model_from_checkpoint(ck, "latest")
    assert saved.model.image_encoder_arch == "cnn" and model.image_encoder is not None
    assert all(torch.equal(model.state_dict()[k], v) for k, v in enc.items())


def test_a_parallax_run_stopped_inside_an_epoch_resumes_exactly(data, tmp_path):
    path, root, _ = data
    cfg = cfg_with(root)
    cfg.training.epochs = 2
    train(cfg, resolve_sources(cfg, str(path), env={}), tmp_path / "straight")
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 3  # inside epoch 1 (two steps an epoch)

    cfg = cfg_with(root)
    cfg.training.epochs = 2
    assert train(cfg, resolve_sources(cfg, str(path), env={}), tmp_path / "split", should_stop=stop)["stopped"]
    cfg = cfg_with(root)
    cfg.training.epochs = 2
    latest = tmp_path / "split" / "checkpoints" / LATEST
    train(cfg, resolve_sources(cfg, str(path), str(latest), env={}), tmp_path / "split")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / LATEST)["model_state_dict"]
    b = load_checkpoint(latest)["model_state_dict"]
    assert any(k.startswith("image_encoder.") for k in a)
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_init_from_a_text_only_model_starts_the_encoder_fresh(data, tmp_path, caplog):
    path, root, _ = data
    plain = cfg_with(root)
    plain.data.use_parallax_augmentation = False
    train(plain, resolve_sources(plain, str(path), env={}), tmp_path / "text")
    text_only = tmp_path / "text" / "checkpoints" / LATEST
    cfg = cfg_with(root)
    with caplog.at_level("INFO", logger="stickgen_core.train"):
        train(cfg, resolve_sources(cfg, str(path), init_from=str(text_only), env={}), tmp_path / "images")
    assert "init_from has no image encoder: it starts fresh" in caplog.text
    assert any(k.startswith("image_encoder.") for k in load_checkpoint(tmp_path / "images" / "checkpoints" /
                                                                         LATEST)["model_state_dict"])
