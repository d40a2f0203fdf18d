"""Generation from a picture: `stickgen generate … --image frame.png [--camera …]` and generate(image=…)."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from stickgen_core import embedding
from stickgen_core.cli import main
from stickgen_core.config import load_config, resolve_sources
from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import atomic_torch_save, load_dataset
from stickgen_core.parallax.picture import load_picture, parse_camera
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import LATEST

DIM = 16
TINY = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64, "dropout": 0.0},
        "training": {"epochs": 2, "batch_size": 4, "max_frames": 24, "warmup_steps": 1, "log_interval": 1,
                     "val_fraction": 0.25, "seed": 3, "action_plan": False, "report_to": []},
        "data": {"use_parallax_augmentation": True, "parallax_image_size": 24}}


class HashEncoder:
    """A deterministic stand-in for the sentence encoder (tests only)."""

    name, dim = "hash", DIM

    def encode(self, texts, progress=None):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=DIM)
                for t in texts]
        return np.stack(rows).astype(np.float32)


def rendered_clips(folder, encoder, views: int, frames_per_view: int):
    """Eight short clips embedded by ``encoder``, saved as ``folder/d.pt`` and rendered at 24 px into
    ``folder/parallax``: the data file, the renders' root and the clips."""
    samples = generate_dataset(8, seed=4, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    for s in samples:
        s["embedding"] = torch.from_numpy(encoder.encode([s["description"]])[0])
    path = folder / "d.pt"
    atomic_torch_save({"sequences": samples}, path)
    render_dataset(samples, folder / "parallax", RenderSettings(views=views, frames_per_view=frames_per_view, size=24))
    return path, folder / "parallax", samples


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pgen")
    path, root, samples = rendered_clips(folder, HashEncoder(), views=2, frames_per_view=3)
    out = {}
    for name, images in (("images", True), ("text", False), ("prefix", True)):
        merged = json.loads(json.dumps(TINY))
        merged["data"].update(parallax_root=str(root), use_parallax_augmentation=images)
        merged["model"]["image_fusion"] = "prefix" if name == "prefix" else "add"
        cfg = load_config("configs/small.yaml", overrides=merged)
        train(cfg, resolve_sources(cfg, str(path), env={}), folder / name)
        out[name] = folder / name / "checkpoints" / LATEST
    return out, root, samples


@pytest.fixture(scope="module")
def gen(trained):
    g = InferenceGenerator(trained[0]["images"], encoder=HashEncoder(), device="cpu")
    torch.nn.init.normal_(g.model.image_encoder.fuse[-1].weight, std=0.5)  # a clear effect of the image
    return g


def png(root, sample=0, view=0):
    return sorted((root / f"sample_{sample:06d}" / "actor_0").glob(f"view{view:02d}_step000_*.png"))[0]


def test_the_image_sets_the_first_frame_and_its_camera_comes_from_metadata(gen, trained):
    _, root, _ = trained
    a = gen.generate("a person walks", seconds=0.4, image=png(root, 0))
    b = gen.generate("a person walks", seconds=0.4, image=png(root, 3))
    plain = gen.generate("a person walks", seconds=0.4)
    assert a["frames"] == 10 and a["image"]["camera_from"].endswith("actor_0/metadata.json")
    meta = json.loads((png(root, 0).parent / "metadata.json").read_text())["frames"][0]["camera"]
    assert a["image"]["camera"][:3] == pytest.approx([meta["position"][c] for c in "xyz"], abs=1e-5)
    assert not torch.allclose(a["motion"][0], b["motion"][0])  # another picture, another start
    assert not torch.allclose(a["motion"][0], plain["motion"][0])
    again = gen.generate("a person walks", seconds=0.4, image=png(root, 0))
    assert torch.equal(a["motion"], again["motion"])


def test_a_picture_in_memory_equals_its_file_and_the_camera_option_wins(gen, trained):
    _, root, _ = trained
    path = png(root, 1)
    cam = ",".join(str(v) for v in gen.picture(path).camera.reshape(-1).tolist())
    from_file = gen.generate("jump", seconds=0.2, image=path)
    with Image.open(path) as im:
        from_memory = gen.generate("jump", seconds=0.2, image=im.copy(), camera=cam)
    assert from_memory["image"]["camera_from"] == "--camera"
    assert torch.allclose(from_file["motion"], from_memory["motion"], atol=1e-5)
    moved = gen.generate("jump", seconds=0.2, image=path, camera="9,1,9,0,1,0,50")
    assert not torch.allclose(from_file["motion"][0], moved["motion"][0])


def test_an_unknown_camera_is_a_note_and_guidance_keeps_the_image(gen, trained, tmp_path):
    _, root, _ = trained
    lone = tmp_path / "lone.png"
    lone.write_bytes(png(root, 2).read_bytes())  # no metadata.json beside it
    out = gen.generate("wave", seconds=0.2, image=lone)
    assert out["image"]["camera_from"] == "unknown" and any("camera is unknown" in n for n in out["notes"])
    gen.model.null_text = torch.nn.Parameter(torch.zeros(gen.model.cfg.d_model)) \
        if gen.model.null_text is None else gen.model.null_text
    guided = [gen.generate("wave", seconds=0.2, image=png(root, k), guidance_scale=2.0)["motion"][0] for k in (0, 3)]
    assert not torch.allclose(*guided)


def test_generate_many_starts_each_row_from_its_picture(gen, trained):
    _, root, _ = trained
    pics = [gen.picture(png(root, k)) for k in (0, 3)]
    rows = gen.generate_many(["walk", "walk"], [3, 3], pictures=pics)
    one = gen.generate_many(["walk"], [3], pictures=pics[1:])[0]  # batched rows equal their one-at-a-time run
    assert torch.allclose(rows[1], one, atol=1e-5) and not torch.allclose(rows[0][0], rows[1][0])
    with pytest.raises(ConfigError, match="2 pictures for 1 prompts"):
        gen.generate_many(["walk"], [3], pictures=pics)


def test_a_checkpoint_without_an_image_encoder_is_one_line_naming_it(trained):
    cks, root, _ = trained
    text_only = InferenceGenerator(cks["text"], encoder=HashEncoder(), device="cpu")
    with pytest.raises(ConfigError, match=r"latest.*has no image encoder \(it was trained without "
                                          r"data.use_parallax_augmentation\)"):
        text_only.generate("walk", seconds=0.2, image=png(root))


@pytest.mark.parametrize("value,message", [
    ("1,2,3,4,5,6", "expected 7 finite numbers"), ("1,2,3,4,5,6,x", "expected 7 finite numbers"),
    ("1,2,3,4,5,6,nan", "expected 7 finite numbers"), ("0,1,3,0,1,0,0.99", "must be 1..179 degrees, got 0.99"),
    ("0,1,3,0,1,0,180", "must be 1..179 degrees, got 180"), ("1,1,1,1,1,1,40", "position and target are the same")])
def test_bad_cameras_name_the_option(value, message):
    with pytest.raises(ConfigError, match=f"--camera: .*{message}"):
        parse_camera(value)


def test_camera_boundaries_are_accepted():
    assert parse_camera("0,1,3,0,1,0,1")[6] == 1.0 and parse_camera("0,1,3,0,1,0,179.5")[6] == 179.5


def test_bad_pictures_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="--image: .*nowhere.png is not a file"):
        load_picture(tmp_path / "nowhere.png", 24)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match="broken.png: cannot read the image"):
        load_picture(broken, 24)
    with pytest.raises(ConfigError, match="image: expected a finite \\[3, H, W\\] tensor"):
        load_picture(torch.zeros(1, 24, 24), 24)
    assert load_picture(np.zeros((40, 30, 3), np.uint8), 24).image.shape == (1, 1, 3, 24, 24)


def test_cli_generate_from_a_picture(trained, tmp_path, monkeypatch, capsys):
    cks, root, _ = trained
    monkeypatch.setattr(embedding, "TextEncoder", lambda *a, **k: HashEncoder())
    out = tmp_path / "g.pt"
    assert main(["generate", "walk", "--checkpoint", str(cks["images"]), "--seconds", "0.4", "--device", "cpu",
                 "--image", str(png(root, 1)), "--camera", "0.5,1,4,0.5,0.9,0,45", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wrote 10 frames" in text and "camera from --camera" in text
    meta = load_dataset(out).samples[0]["meta"]
    assert meta["image"]["camera"] == pytest.approx([0.5, 1, 4, 0.5, 0.9, 0, 45])
    assert main(["generate", "walk", "--checkpoint", str(cks["text"]), "--image", str(png(root, 1)),
                 "--out", str(tmp_path / "x.pt")]) != 0
    assert "has no image encoder" in capsys.readouterr().err
    assert main(["generate", "walk", "--checkpoint", str(cks["images"]), "--camera", "1,2,3,4,5,6,40",
                 "--out", str(tmp_path / "y.pt")]) != 0
    assert "--camera: only with --image" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_joint_errors_in_metres_and_pelvis_aligned():
    from stickgen_core.parallax.evaluation import joint_errors

    pose = generate_dataset(1, seed=1, config=SynthConfig(multi_actor_rate=0.0))[0]["motion"][:1].numpy()
    moved = pose.copy()
    moved[:, 0::2] += 0.1  # the whole figure 10 cm to the right
    assert joint_errors(moved, pose)[0] == pytest.approx(0.1, abs=1e-6)
    assert joint_errors(moved, pose, align=True)[0] == pytest.approx(0.0, abs=1e-6)


def test_eval_compares_the_first_frame_with_and_without_the_picture(trained, tmp_path, capsys):
    from stickgen_core.parallax.evaluation import evaluate_pictures

    cks, root, samples = trained
    data = root.parent / "d.pt"
    report = evaluate_pictures(cks["images"], data, root)
    assert report.pictures == 16 and report.clips == 8 and report.step == 0  # 8 clips x 2 views at step 0
    assert 0 < report.with_image_m < 5 and report.with_image_m != report.without_image_m
    assert 0 < report.camera_only_m < 5 and report.camera_only_m not in (report.with_image_m, report.without_image_m)
    assert main(["parallax", "eval", str(cks["images"]), "--data", str(data), "--root", str(root), "--step", "2",
                 "--json", str(tmp_path / "r.json")]) == 0
    assert "| measure | with the image | its camera only | without |" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["step"] == 2
    every = evaluate_pictures(cks["images"], data, root, step=None)
    assert every.pictures == 48 and every.step is None  # 8 clips x 2 views x 3 steps
    with pytest.raises(SystemExit):
        main(["parallax", "eval", str(cks["images"]), "--data", str(data), "--root", str(root), "--step", "first"])
    assert "--step: expected a whole number >= 0 or all, got 'first'" in capsys.readouterr().err
    with pytest.raises(DatasetError, match="no actor_0 render at step 3"):
        evaluate_pictures(cks["images"], data, root, step=3)
    with pytest.raises(ConfigError, match="has no image encoder"):
        evaluate_pictures(cks["text"], data, root)
    bare = [dict(s) for s in samples]
    bare[5].pop("embedding")
    atomic_torch_save({"sequences": bare}, tmp_path / "bare.pt")
    with pytest.raises(DatasetError, match="bare.pt: sample 5 has no 'embedding'"):
        evaluate_pictures(cks["images"], tmp_path / "bare.pt", root)


@pytest.mark.parametrize("fusion", ["images", "prefix"])
def test_cached_generation_from_a_picture_equals_the_uncached_one(trained, fusion):
    cks, root, _ = trained
    g = InferenceGenerator(cks[fusion], encoder=HashEncoder(), device="cpu")
    assert g.model.cfg.image_fusion == ("prefix" if fusion == "prefix" else "add")
    torch.manual_seed(0)
    torch.nn.init.normal_(g.model.image_encoder.fuse[-1].weight, std=0.5)
    for block in g.model.blocks:  # sharp attention: a token one position off changes the answer (~1e-3)
        torch.nn.init.normal_(block.attn.qkv.weight, std=0.5)
    cached = g.generate("walk", seconds=0.3, image=png(root, 2))
    uncached = g.generate("walk", seconds=0.3, image=png(root, 2), use_cache=False)
    assert torch.allclose(cached["motion"], uncached["motion"], atol=1e-5)
    other = g.generate("walk", seconds=0.3, image=png(root, 5))
    assert not torch.allclose(cached["motion"][0], other["motion"][0])


def test_prefix_fusion_leaves_the_text_scales_alone_and_keeps_output_length(trained):
    cks, root, _ = trained
    g = InferenceGenerator(cks["prefix"], encoder=HashEncoder(), device="cpu")
    model = g.model
    text, motion = torch.randn(2, DIM), torch.randn(2, 5, 48)
    image, cam = torch.rand(2, 1, 3, 24, 24), torch.rand(2, 1, 7)
    out = model(text, motion, image=image, image_camera=cam)
    assert out["pose"].shape == (2, 6, 48)  # the image token predicts nothing: the text prefix + 5 frames
    cache = [{} for _ in model.blocks]
    model(text, motion[:, :0], cache=cache, start=0, image=image, image_camera=cam)
    assert torch.equal(cache[0]["cond"], model.text_condition(text))  # adaLN sees the text alone
    assert cache[0]["n"] == 2  # the image token and the text token


def test_an_unknown_fusion_names_the_key():
    with pytest.raises(ConfigError, match="model.image_fusion"):
        load_config("configs/small.yaml", overrides={"model": {"image_fusion": "concat"}})


def test_root_summary_counts_views_and_coverage(trained, tmp_path):
    from stickgen_core.errors import StickGenError
    from stickgen_core.parallax.summary import count_clips, coverage_problem, root_summary

    _, root, _ = trained
    data = root.parent / "d.pt"
    s = root_summary(root)
    assert s.samples == list(range(8)) and (s.views, s.frames_per_view, s.image_size, s.seed) == (2, 3, 24, 0)
    assert count_clips(data) == 8
    assert s.text(8) == "8 of 8 clips covered · 2 views × 3 frames · 24 px · camera seed 0"
    assert coverage_problem(s, data, 8) is None  # every clip: at the boundary
    problem = coverage_problem(s, data, 9)  # one clip more than rendered
    assert problem.startswith(f"data.parallax_root: {root} has renders of 8 of the 9 clips") and "sample 8" in problem
    assert s.missing(10) == [8, 9]
    (root / "parallax.json").rename(tmp_path / "kept.json")  # a root of the reference's: read from its metadata
    try:
        ref = root_summary(root)
        assert (ref.views, ref.frames_per_view, ref.image_size, ref.seed) == (2, 3, 24, None)
    finally:
        (tmp_path / "kept.json").rename(root / "parallax.json")
    with pytest.raises(StickGenError, match="data.parallax_root: .* is not a folder"):
        root_summary(tmp_path / "none")
    with pytest.raises(StickGenError, match="holds no sample_XXXXXX folders"):
        root_summary(tmp_path)


def test_renders_are_found_by_clip_id_under_the_workspace(trained, tmp_path):
    import shutil

    from stickgen_core.io import clip_id
    from stickgen_core.parallax.lookup import camera_text, first_frames, index_clips, workspace_roots

    _, root, samples = trained
    assert workspace_roots(tmp_path) == []
    shutil.copytree(root, tmp_path / "parallax" / "a")
    (tmp_path / "parallax" / "notes").mkdir()  # a folder that is no root is passed over
    roots = workspace_roots(tmp_path)
    assert roots == [tmp_path / "parallax" / "a"]
    index = index_clips(roots)
    assert len(index) == 8 and index[clip_id(samples[3])].parent.parent.name == "sample_000003"
    views = first_frames(index[clip_id(samples[3])])
    assert [f.view_id for f in views] == [0, 1] and all(f.step_index == 0 for f in views)
    assert camera_text(views[1]).startswith("view 1 · camera (") and "fov" in camera_text(views[1])
    (index[clip_id(samples[5])]).write_text("{broken")  # an unreadable sidecar is passed over, not fatal
    assert len(index_clips(roots)) == 7
    with pytest.raises(InterruptedError):
        index_clips(roots, should_stop=lambda: True)
