"""--target-height is a standing height: 0 keeps the file's size, a positive height up to 10 m scales the
figure to it, anything else (negative: an upside-down figure under the ground; NaN; a 1e9 m giant) is
one error naming the option, never a written clip (before: -1 wrote a figure 0.8 m below the floor, rc 0)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from stickgen_core.convert.joints3d import Track3D, to_sample
from stickgen_core.errors import DatasetError
from stickgen_core.schema import JOINT_NAMES
from stickgen_core.skeleton import figure_height

# a standing figure in metres, y up (our 16 joints), swaying a little so it is not frozen
STAND = {"pelvis_center": (0, 0.95, 0), "chest": (0, 1.25, 0), "neck": (0, 1.45, 0), "head_center": (0, 1.6, 0),
         "l_shoulder": (0.18, 1.42, 0), "l_elbow": (0.2, 1.15, 0), "l_wrist": (0.2, 0.9, 0),
         "r_shoulder": (-0.18, 1.42, 0), "r_elbow": (-0.2, 1.15, 0), "r_wrist": (-0.2, 0.9, 0),
         "l_hip": (0.09, 0.95, 0), "l_knee": (0.09, 0.5, 0), "l_ankle": (0.09, 0.08, 0),
         "r_hip": (-0.09, 0.95, 0), "r_knee": (-0.09, 0.5, 0), "r_ankle": (-0.09, 0.08, 0)}


def _track() -> Track3D:
    J = np.array([STAND[n] for n in JOINT_NAMES], dtype=np.float64)[None].repeat(50, 0)
    J[:, :, 2] += np.linspace(0, 1.0, 50)[:, None]  # walks 1 m along z
    return Track3D(J, 25.0, "stand.npy", {})


@pytest.mark.parametrize("height", [-1.0, -1e-9, math.nan, math.inf, 10.001, 1e9])
def test_a_target_height_that_is_not_a_standing_height_is_refused(height):
    with pytest.raises(DatasetError, match=r"stand\.npy: --target-height: expected 0 \(keep the file's size\) or a "
                                           r"height in metres above 0 and at most 10"):
        to_sample(_track(), "a person", target_height=height, units="m")


@pytest.mark.parametrize("height", [0.5, 1.75, 10.0])
def test_a_standing_height_scales_the_figure_onto_the_ground(height):
    m = to_sample(_track(), "a person", target_height=height, units="m")["motion"].numpy()
    assert m[:, 1::2].min() == pytest.approx(0.0, abs=1e-4)  # on the ground, not under it
    assert float(np.median(figure_height(m))) == pytest.approx(height, rel=0.1)


def test_the_cli_refuses_a_negative_target_height_in_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "stickgen_core.cli", "convert", str(tmp_path / "x.bvh"), "--format",
                        "bvh", "--out", str(tmp_path / "o.pt"), "--target-height", "-1"], capture_output=True, text=True)  # refused before any read
    assert p.returncode == 2 and "--target-height" in p.stderr and not (tmp_path / "o.pt").exists(), p.stderr
