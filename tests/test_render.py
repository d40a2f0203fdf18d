import numpy as np
from PIL import Image

from stickgen_core.render import contact_sheet, render_frames, save_gif, save_png_frames


def ink(img, bg=(250, 250, 247)):
    a = np.asarray(img.convert("RGB")).astype(int)
    return (np.abs(a - np.array(bg)).sum(-1) > 60)


def test_gif_has_every_frame_and_the_figure_moves(tmp_path, clean_sample):
    path = save_gif(clean_sample["motion"], tmp_path / "walk.gif", title="walk")
    with Image.open(path) as gif:
        assert gif.n_frames == len(clean_sample["motion"])
        gif.seek(0)
        first = ink(gif.copy())
        gif.seek(gif.n_frames // 2)
        middle = ink(gif.copy())
    assert first.sum() > 300  # limbs, head, ground line and text are drawn
    assert (first != middle).sum() > 100


def test_figure_is_upright_with_head_above_feet(clean_sample):
    img = render_frames(clean_sample["motion"][:1], size=(200, 200))[0]
    a = np.asarray(img).astype(int)
    trunk = (np.abs(a - np.array([40, 40, 40])).sum(-1) < 30)
    left = (np.abs(a - np.array([40, 110, 220])).sum(-1) < 30)
    rows_trunk = np.nonzero(trunk.any(1))[0]
    rows_left = np.nonzero(left.any(1))[0]
    # image y grows downwards: the trunk/head starts above the lowest left-limb pixel
    assert rows_trunk.min() < rows_left.max()


def test_png_frames_and_contact_sheet(tmp_path, clean_sample):
    paths = save_png_frames(clean_sample["motion"], tmp_path / "frames", every=10)
    assert len(paths) == (len(clean_sample["motion"]) + 9) // 10
    sheet = contact_sheet(clean_sample["motion"], columns=4, size=(100, 120))
    assert sheet.size == (400, 120)


def test_multi_actor_and_nan_frames_do_not_crash(clean_sample):
    import torch
    m = torch.stack([clean_sample["motion"], clean_sample["motion"] + 1], 1)
    m[3, 0, 0] = float("nan")
    frames = render_frames(m, size=(120, 120))
    assert len(frames) == len(m)
