"""The motion viewer shows the critic's anatomy issues (issue 32): a timeline row per kind, the
limb it names tinted, and a detached limb's gap drawn dashed from the neck to the shoulder."""

from __future__ import annotations

import numpy as np

from stickgen_core.critic import SafetyCritic
from stickgen_core.issues import critic_issues
from stickgen_studio.widgets import MotionViewer
from stickgen_studio.widgets.issue_style import issue_colour
from tests.gui.test_motion_viewer import near, pixels, viewer  # noqa: F401  (the viewer fixture)
from tests.test_critic_anatomy import detach_arm, walk


def _show(viewer, m: np.ndarray):
    r = SafetyCritic().evaluate(m.astype(np.float32), prompt="A person walks.")
    viewer.set_clip(m, 25.0, critic_issues(r.issues, len(m)), ground=0.0)
    return r


def _gap_pixels(viewer, colour) -> int:
    """Pixels in the issue's full colour, the caption's text (top left) left out: the dashed gap."""
    hit = near(pixels(viewer.canvas), colour, 12)
    hit[:70, :320] = False
    return int(hit.sum())


def test_a_detached_arm_has_its_row_its_label_and_its_gap_drawn(viewer):
    m = detach_arm(walk(), 0.6, slice(30, 60))
    _show(viewer, m)
    assert "detached limb" in viewer.timeline.row_labels
    (span,) = [s for s in viewer.issues if s.kind == "detached_limb"]
    assert (span.start, span.end, span.part, span.segments) == (30, 60, "left arm", (3, 4))
    gap_colour = issue_colour("detached_limb")
    gap_colour.setAlpha(255)
    viewer.set_frame(10)                                   # attached: no gap drawn
    before = _gap_pixels(viewer, gap_colour)
    viewer.set_frame(45)
    assert [s.label for s in viewer.active_issues() if s.kind == "detached_limb"] == ["detached limb: left arm"]
    after = _gap_pixels(viewer, gap_colour)
    assert after > before + 40, (before, after)


def test_a_clean_walk_lists_no_anatomy_issue(viewer):
    _show(viewer, walk())
    assert not {"detached limb", "bone length", "joint limit", "height change"} & set(viewer.timeline.row_labels)
