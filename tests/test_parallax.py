"""Parallax renders: projection, layout and metadata, determinism, resume, bounds, and reading them back."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from stickgen_core.cli import main as cli_main
from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.io import atomic_torch_save
from stickgen_core.parallax import render as render_mod
from stickgen_core.parallax.camera import NEAR, project
from stickgen_core.parallax.dataset import MultimodalParallaxDataset
from stickgen_core.parallax.render import lift, render_frame
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_core.synth import SynthConfig, generate_dataset

SMALL = RenderSettings(views=2, frames_per_view=3, size=32, seed=1)


@pytest.fixture(scope="module")
def samples():
    return generate_dataset(3, seed=2, config=SynthConfig(multi_actor_rate=0.5, max_seconds=2))


@pytest.fixture(scope="module")
def root(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("parallax") / "root"
    render_dataset(samples, out, SMALL)
    return out


def _meta(root, sample=0, actor=0):
    return json.loads((root / f"sample_{sample:06d}" / f"actor_{actor}" / "metadata.json").read_text())


def test_projection_centre_scale_and_behind_the_camera():
    pose = np.array([0, 1, 5, 0, 1, 0, 90.0], dtype=np.float32)  # 5 m away, fov 90: focal = size / 2
    pts = np.array([[0, 1, 0], [1, 1, 0], [0, 1, 5 - NEAR], [0, 1, 5 - NEAR - 1e-3], [0, 1, 6]], dtype=np.float32)
    px, z = project(pts, pose, 100)
    assert np.allclose(px[0], [50, 50]) and np.isclose(z[0], 5)
    assert np.isclose(px[1, 0], 50 + 50 * 1 / 5) and np.isclose(px[1, 1], 50)  # 1 m right at 5 m: a fifth of half
    assert np.isclose(z[2], NEAR, atol=1e-5) and z[3] > NEAR  # the near plane, and one step past it (in front)
    assert z[4] < 0  # behind the camera


def test_figure_is_drawn_where_it_projects(samples):
    m = samples[0]["motion"].numpy()
    m = m[:, :1] if m.ndim == 3 else m[:, None]
    world = lift(m)[0]
    pose = np.array([0.3, 1.2, 4, 0.3, 0.9, 0, 45.0], dtype=np.float32)
    with_fig = np.asarray(render_frame(world, pose, 96), dtype=np.int16)
    empty = np.asarray(render_frame(np.full_like(world, np.nan), pose, 96), dtype=np.int16)
    ys, xs = np.nonzero(np.abs(with_fig - empty).sum(-1) > 30)
    px, _ = project(world.reshape(-1, 3), pose, 96)
    assert len(xs) > 30
    assert xs.min() >= px[:, 0].min() - 8 and xs.max() <= px[:, 0].max() + 8  # margin: line width and the head ring
    assert ys.min() >= px[:, 1].min() - 10 and ys.max() <= px[:, 1].max() + 8


def test_layout_maps_every_png_to_sample_actor_frame_and_camera(root, samples):
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["sample_000000", "sample_000001", "sample_000002"]
    for i, s in enumerate(samples):
        actors = s["motion"].shape[1] if s["motion"].dim() == 3 else 1
        assert sorted(p.name for p in (root / f"sample_{i:06d}").iterdir()) == [f"actor_{a}" for a in range(actors)]
        for a in range(actors):
            meta, folder = _meta(root, i, a), root / f"sample_{i:06d}" / f"actor_{a}"
            assert (meta["sample_id"], meta["actor_id"], meta["text"]) == (f"sample_{i:06d}", f"actor_{a}",
                                                                           s["description"])
            assert {f["file"] for f in meta["frames"]} == {p.name for p in folder.glob("*.png")}
            assert len(meta["frames"]) == SMALL.views * SMALL.frames_per_view
            assert {f["motion_frame_index"] for f in meta["frames"]} >= {0, len(s["motion"]) - 1}
            for f in meta["frames"]:
                cam = f["camera"]
                assert set(cam) == {"position", "target", "fov"} and 35 <= cam["fov"] <= 60
                assert Image.open(folder / f["file"]).size == (32, 32)


def test_same_seed_same_images_other_seed_other_cameras(root, samples, tmp_path):
    render_dataset(samples[:1], tmp_path / "again", SMALL)
    render_dataset(samples[:1], tmp_path / "other", RenderSettings(2, 3, 32, seed=2))
    name = _meta(root)["frames"][0]["file"]
    a = (root / "sample_000000/actor_0" / name).read_bytes()
    assert (tmp_path / "again/sample_000000/actor_0" / name).read_bytes() == a
    assert _meta(tmp_path / "again") == _meta(root)
    assert _meta(tmp_path / "other")["frames"][0]["camera"] != _meta(root)["frames"][0]["camera"]


def test_resume_skips_finished_samples_and_removes_a_dead_writers_temp(samples, tmp_path):
    out = tmp_path / "r"
    render_dataset(samples[:1], out, SMALL)
    dead = out / ".sample_000001.999999999.abc.tmp"  # no such pid
    dead.mkdir()
    summary = render_dataset(samples[:2], out, SMALL)
    assert (summary.rendered, summary.skipped) == (1, 1) and not dead.exists()
    with pytest.raises(ConfigError, match="holds renders made with"):
        render_dataset(samples[:2], out, RenderSettings(3, 3, 32, seed=1))  # other settings, same root


def test_a_failed_sample_leaves_nothing_behind(samples, tmp_path, monkeypatch):
    calls = []

    def broken(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return Image.new("RGB", (32, 32))

    monkeypatch.setattr("stickgen_core.parallax.writer.render_frame", broken)
    with pytest.raises(OSError):
        render_dataset(samples[:1], tmp_path / "r", SMALL)
    assert [p.name for p in (tmp_path / "r").iterdir() if p.is_dir()] == []  # no sample, no temp folder


@pytest.mark.parametrize("settings,needle", [
    (RenderSettings(views=0), "views must be 1..64"), (RenderSettings(views=65), "views must be 1..64"),
    (RenderSettings(frames_per_view=513), "frames_per_view"), (RenderSettings(size=15), "size must be 16..1024"),
])
def test_settings_out_of_bounds_are_refused(samples, tmp_path, settings, needle):
    with pytest.raises(ConfigError, match=needle):
        render_dataset(samples[:1], tmp_path / "r", settings)


def test_image_budget_at_the_limit_and_one_past(samples, tmp_path):
    one = RenderSettings(views=1, frames_per_view=2, size=16)
    actors = samples[0]["motion"].shape[1] if samples[0]["motion"].dim() == 3 else 1
    render_dataset(samples[:1], tmp_path / "ok", one, max_images=2 * actors)
    with pytest.raises(ConfigError, match="over the limit"):
        render_dataset(samples[:1], tmp_path / "no", one, max_images=2 * actors - 1)
    assert not (tmp_path / "no" / "sample_000000").exists()


def test_cli_render(samples, tmp_path, capsys):
    data = tmp_path / "d.pt"
    atomic_torch_save({"sequences": samples[:2]}, data)
    rc = cli_main(["parallax", "render", str(data), "--out", str(tmp_path / "p"), "--views", "1",
                   "--frames-per-view", "2", "--size", "16", "--samples", "1"])
    assert rc == 0 and "rendered 1 sample(s)" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "p").iterdir() if p.is_dir()] == ["sample_000001"]


def test_dataset_items_match_the_motion_and_camera(root, samples):
    ds = MultimodalParallaxDataset(root, samples, image_size=24)
    n = sum(SMALL.views * SMALL.frames_per_view * (s["motion"].shape[1] if s["motion"].dim() == 3 else 1)
            for s in samples)
    assert len(ds) == n
    for i in (0, len(ds) - 1):
        image, motion, camera, text, action = ds[i]
        f = ds.items[i][0]
        m = samples[f.sample_index]["motion"]
        m = m[:, f.actor_index] if m.dim() == 3 else m
        assert image.shape == (3, 24, 24) and 0 <= image.min() and image.max() <= 1
        assert torch.equal(motion, m[f.motion_frame]) and camera.shape == (7,) and camera[6] == f.camera[6]
        assert text == samples[f.sample_index]["description"] and action.dtype == torch.long


@pytest.mark.parametrize("length,stride,windows", [(3, 1, 1), (2, 1, 2), (1, 2, 2), (1, 1, 3), (4, 1, 0)])
def test_sequence_windows_follow_length_and_stride(root, samples, length, stride, windows):
    ds = MultimodalParallaxDataset(root, samples, 16, sequences=True, sequence_length=length, stride=stride)
    groups = SMALL.views * sum(s["motion"].shape[1] if s["motion"].dim() == 3 else 1 for s in samples)
    assert len(ds) == groups * windows
    if windows:
        images, motion, cams, _, actions = ds[0]
        assert images.shape == (length, 3, 16, 16) and motion.shape == (length, 48) and cams.shape == (length, 7)
        assert [f.step_index for f in ds.items[-1]] == sorted(f.step_index for f in ds.items[-1])


def _copy(root, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(root, out)
    return out, out / "sample_000000" / "actor_0" / "metadata.json"


def test_a_png_path_outside_its_folder_is_refused(root, samples, tmp_path):
    out, meta_path = _copy(root, tmp_path)
    (out / "secret.png").write_bytes(b"x")
    meta = json.loads(meta_path.read_text())
    meta["frames"][1]["file"] = "../../secret.png"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"metadata.json: key 'frames\[1\].file': '../../secret.png' resolves "
                                           "outside"):
        MultimodalParallaxDataset(out, samples, 16)


@pytest.mark.parametrize("mutate,key", [
    (lambda m: m["frames"][0]["camera"].update(fov="wide"), "frames[0].camera.fov"),
    (lambda m: m["frames"][2]["camera"].pop("target"), "frames[2].camera.target"),
    (lambda m: m["frames"][0].update(view_id=-1), "frames[0].view_id"),
    (lambda m: m["frames"][0].update(motion_frame_index=1.5), "frames[0].motion_frame_index"),
    (lambda m: m.update(frames=[]), "frames"),
    (lambda m: m.update(sample_index="abc", sample_id="none"), "sample_id"),
])
def test_malformed_metadata_is_one_line_naming_file_and_key(root, samples, tmp_path, mutate, key):
    out, meta_path = _copy(root, tmp_path)
    meta = json.loads(meta_path.read_text())
    mutate(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError) as err:
        MultimodalParallaxDataset(out, samples, 16)
    msg = str(err.value)
    assert "\n" not in msg and str(meta_path) in msg and f"key '{key}'" in msg


def test_renders_of_a_longer_file_are_refused_by_sample(root, samples):
    with pytest.raises(DatasetError, match="sample 2, but the data has 2 samples"):
        MultimodalParallaxDataset(root, samples[:2], 16)


def write_reference_layout(root, samples, views=2):
    """What the reference's renderer writes (its keys only: no sample_index, clip_id or text)."""
    for i, s in enumerate(samples):
        folder = root / f"sample_{i:06d}" / "actor_0"
        folder.mkdir(parents=True)
        frames = []
        for v in range(views):
            name = f"frame_{v:03d}.png"
            Image.new("RGB", (40, 30), (200, 10 * v, 0)).save(folder / name)
            frames.append({"file": name, "motion_frame_index": v, "view_id": v,
                           "camera": {"position": {"x": 1, "y": 1.5, "z": 4}, "target": {"x": 0, "y": 1, "z": 0},
                                      "fov": 50}})
        (folder / "metadata.json").write_text(json.dumps({"sample_id": f"sample_{i:06d}", "actor_id": "actor_0",
                                                          "frames": frames}))


def reference_index(root):
    """The reference reader's index walk (the keys it reads), applied to a folder."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        if "metadata.json" in files:
            meta = json.load(open(os.path.join(dirpath, "metadata.json")))
            for fr in meta.get("frames", []):
                cam = fr.get("camera") or {}
                out.append((int(meta["sample_id"].rsplit("_", 1)[1]), int(meta["actor_id"].rsplit("_", 1)[1]),
                            os.path.join(dirpath, fr["file"]), int(fr.get("motion_frame_index", 0)),
                            int(fr.get("view_id", 0)), [cam["position"]["x"], cam["target"]["z"], cam["fov"]]))
    return out


def test_reference_layout_loads_here_and_ours_loads_in_the_reference_reader(root, samples, tmp_path):
    ref = tmp_path / "ref"
    write_reference_layout(ref, samples[:2])
    ds = MultimodalParallaxDataset(ref, samples[:2], 16)
    image, motion, camera, text, _ = ds[1]
    assert image.shape == (3, 16, 16) and text == samples[0]["description"]  # text from the data when not stored
    assert camera.tolist() == [1, 1.5, 4, 0, 1, 0, 50] and ds.items[1][0].motion_frame == 1
    ours = reference_index(root)
    assert len(ours) == len(MultimodalParallaxDataset(root, samples, 16))
    assert all(os.path.isfile(p) for _, _, p, _, _, _ in ours)
    assert {(s, a) for s, a, *_ in ours} == {(f.sample_index, f.actor_index)
                                           for f in (w[0] for w in MultimodalParallaxDataset(root, samples, 16).items)}


def test_render_module_is_deterministic_across_worker_counts(samples, tmp_path):
    render_dataset(samples[:2], tmp_path / "one", SMALL)
    render_dataset(samples[:2], tmp_path / "two", SMALL, workers=2)
    for p in (tmp_path / "one").rglob("*.png"):
        assert (tmp_path / "two" / p.relative_to(tmp_path / "one")).read_bytes() == p.read_bytes()
    assert render_mod.SUPERSAMPLE >= 2  # antialiasing by supersampling


@pytest.mark.parametrize("scale,lift_by", [(1.0, 0.0), (1.8, -0.7)])  # ours, and the reference's taller, sunk figures
def test_every_camera_keeps_the_whole_figure_in_the_picture(samples, scale, lift_by):
    m = samples[0]["motion"].numpy().copy()
    m = (m[:, :1] if m.ndim == 3 else m[:, None]) * scale
    m[..., 1::2] += lift_by
    frames = render_mod.view_frames(len(m), 6)
    poses = render_mod.clip_poses(m, frames, 32, np.random.default_rng(0))
    pts = lift(m)[frames].reshape(len(frames), -1, 3)  # [S, P, 3]
    px, z = project(pts[None], poses, 256)  # every view and step at once
    assert (z > NEAR).all() and px.min() >= 0 and px.max() <= 256


def test_contact_sheet_has_a_row_per_view_and_a_column_per_step(root, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert cli_main(["parallax", "sheet", str(root), "--sample", "1", "--tile", "40", "--out", str(out)]) == 0
    assert Image.open(out).size == (40 * SMALL.frames_per_view, (40 + 14) * SMALL.views)
    assert cli_main(["parallax", "sheet", str(root), "--sample", "7", "--out", str(out)]) == 2
    assert "sample 7, actor 0 has no renders" in capsys.readouterr().err


@pytest.mark.parametrize("content,needle", [
    (None, "over the limit of 4096"), (b"\x89PNG\r\n\x1a\nbroken", "cannot read the image"),
])
def test_an_oversized_or_broken_png_is_a_dataset_error_naming_it(root, samples, tmp_path, content, needle):
    out, meta_path = _copy(root, tmp_path)
    png = out / "sample_000000" / "actor_0" / _meta(root)["frames"][0]["file"]
    if content is None:
        Image.new("RGB", (5000, 4)).save(png)
    else:
        png.write_bytes(content)
    ds = MultimodalParallaxDataset(out, samples, 16)
    with pytest.raises(DatasetError, match=needle) as err:
        ds[0]
    assert str(png) in str(err.value)
