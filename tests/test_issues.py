"""Issue spans from every source, and the viewer's framing, without Qt."""

from __future__ import annotations

import numpy as np

from stickgen_core.critic import SafetyCritic
from stickgen_core.framing import figure_framing
from stickgen_core.issues import (critic_issues, curation_issues, injected_defect_spans, kinds_in_order,
                                  severity_from_ratio, spans_from_flags)
from stickgen_core.metrics import ClipInput, frame_flags
from stickgen_core.synth import SynthConfig, generate_dataset


def _with_defect(kind: str, n: int = 60) -> dict:
    ds = generate_dataset(n, seed=1, config=SynthConfig(defect_rate=0.7, multi_actor_rate=0.0))
    return next(s for s in ds if any(d["type"] == kind for d in s["meta"]["injected_defects"]))


def test_curation_spans_cover_the_injected_defect_and_match_the_flags():
    s = _with_defect("velocity_explosion")
    m = s["motion"].numpy()
    spans = curation_issues(ClipInput(m, 25.0, ground=0.0))
    injected = [d for d in injected_defect_spans(s["meta"], len(m)) if d.kind == "velocity_explosion"][0]
    spikes = [x for x in spans if x.kind == "velocity_explosion"]
    assert any(x.start <= injected.end and injected.start <= x.end for x in spikes)
    assert all(x.severity > 0.5 for x in spikes)  # a teleport is far past its limit
    flags = frame_flags(ClipInput(m, 25.0, ground=0.0))
    for kind, flag in flags.items():  # the spans are exactly the flagged frames
        covered = np.zeros(len(m), bool)
        for x in spans:
            if x.kind == kind:
                covered[x.start: x.end] = True
        assert (covered == flag).all(), kind


def test_critic_issues_become_spans_and_rangeless_ones_cover_the_clip():
    s = _with_defect("ground_penetration")
    m = s["motion"].numpy()
    result = SafetyCritic().evaluate(m)
    spans = critic_issues(result.issues, len(m))
    assert "ground_penetration" in {x.kind for x in spans}
    from_report = critic_issues(result.to_dict()["issues"], len(m))
    assert [(x.kind, x.start, x.end) for x in from_report] == [(x.kind, x.start, x.end) for x in spans]
    whole = critic_issues([{"type": "low_quality", "severity": 0.4, "description": "q", "frame_range": []}], 50)
    assert (whole[0].start, whole[0].end) == (0, 50)


def test_spans_from_flags_and_severity():
    flag = np.zeros(80, bool)
    flag[3:6] = flag[10:70] = True
    spans = spans_from_flags({"frozen": flag}, fps=25.0)
    assert [(x.start, x.end) for x in spans] == [(3, 6), (10, 70)]
    assert spans[1].severity > spans[0].severity  # a longer run is worse
    sev = severity_from_ratio(np.array([0.5, 1.0, 2.0, 100.0]))
    assert np.isclose(sev[0], 0.3) and np.isclose(sev[1], 0.3) and sev[1] < sev[2] < sev[3] <= 1.0
    assert kinds_in_order(spans_from_flags({"zz_custom": flag, "jitter": flag})) == ["jitter", "zz_custom"]


def test_framing_fills_the_view_for_a_climb_and_for_foreign_units():
    ds = generate_dataset(12, seed=1, config=SynthConfig(defect_rate=0.0, multi_actor_rate=0.0))
    climb = next(s for s in ds if "climbs a ladder" in s["description"])["motion"].numpy()
    f = figure_framing(climb, 1.5, ground=0.0)
    ys = climb[:, 1::2]
    per_frame = ys.max(1) - ys.min(1)
    assert (per_frame / f.height).min() > 0.5  # the figure fills over half the view on every frame
    top, bottom = f.cy + f.height / 2, f.cy - f.height / 2
    assert (ys.max(1) < top).all() and (ys.min(1) > bottom).all()
    # foreign data: figures 3 units tall standing on y = -0.7
    stand = next(s for s in ds if "climb" not in s["description"])["motion"].numpy()
    foreign = stand * (3.0 / np.ptp(stand[:, 1::2], axis=1).max())
    foreign[:, 1::2] += -0.7 - foreign[:, 1::2].min()
    g = figure_framing(foreign, 1.5, ground=-0.7)
    assert np.allclose(np.ptp(g.cy), 0.0)  # a still view holds it
    assert g.cy[0] - g.height / 2 < -0.7 < g.cy[0] and 3.0 / g.height > 0.75
