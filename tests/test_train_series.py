"""The Train page's metric series without Qt: metrics rows parsed into columns, smoothing continued
across polls, and what is new since the last draw (an epoch-only poll included)."""

from __future__ import annotations

import numpy as np
import pytest

from stickgen_core.train.series import DrawnRows, IncreasingCheck, RunSeries, ema_debiased, parse_rows


def steps(first: int, last: int) -> list[dict]:
    return [{"type": "step", "epoch": (s - 1) // 10, "step": s, "lr": 1e-3, "train_total": 2.0 + 0.1 * (s % 3),
             "time": f"2026-01-01T00:00:{s % 60:02d}+00:00"} for s in range(first, last + 1)]


def epoch(e: int, val: float) -> dict:
    return {"type": "epoch", "epoch": e, "step": (e + 1) * 10, "val_total": val, "time": "2026-01-01T00:01:00+00:00"}


def test_rows_become_step_and_epoch_columns():
    step_cols, epoch_cols = parse_rows(steps(1, 3) + [epoch(0, 1.5), {"type": "step", "step": 4, "note": "text"}])
    assert step_cols["step"].tolist() == [1, 2, 3, 4]
    assert np.isnan(step_cols["train_total"][3])           # a row without the key: NaN, not a shift
    assert "note" not in step_cols                          # a column with no number is not a series
    assert step_cols["t"][1] - step_cols["t"][0] == 1.0     # wall time in seconds
    assert epoch_cols["val_total"].tolist() == [1.5]
    assert parse_rows([]) == ({}, {})


def test_what_is_new_since_the_last_draw_counts_an_epoch_only_poll():
    s, drawn = RunSeries("a"), DrawnRows()
    s.add(*parse_rows(steps(1, 20) + [epoch(0, 1.5)]))
    assert drawn.news("a", s) == (True, True) and drawn.grown(["a", "b"], {"a": s}) == ["a"]
    drawn.mark("a", s)
    assert drawn.grown(["a"], {"a": s}) == []
    s.add(*parse_rows([epoch(1, 0.9)]))                     # the trainer's last line: validation only
    assert drawn.news("a", s) == (False, True) and drawn.grown(["a"], {"a": s}) == ["a"]
    assert s.best() == (1, 0.9)
    drawn.mark("a", s)
    s.add(*parse_rows(steps(21, 22)))
    assert drawn.news("a", s) == (True, False)
    drawn.clear()
    assert drawn.news("a", s) == (True, True)


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.95])
def test_smoothing_continued_over_polls_equals_smoothing_at_once(weight):
    rng = np.random.default_rng(0)
    values = rng.random(300)
    values[[5, 50, 51]] = np.nan                            # a skipped value keeps the curve's last level
    whole, _ = ema_debiased(values, weight)
    s = RunSeries("a")
    parts = []
    for lo, hi in ((0, 7), (7, 120), (120, 300)):            # three polls
        s.add({"train_total": values[lo:hi], "step": np.arange(lo, hi, dtype=float)}, {})
        parts = s.smoothed("train_total", weight)
    np.testing.assert_allclose(parts, whole, rtol=1e-12)
    if weight:
        assert whole[0] == pytest.approx(values[0])          # debiased: the first point is not pulled to 0
        assert whole[5] == whole[4]


def test_increasing_x_is_checked_over_new_rows_and_again_after_a_reset():
    check = IncreasingCheck()
    x = np.arange(10.0)
    assert check("a", x)
    assert not check("a", np.append(x, 5.0))                # an append that goes back
    assert not check("a", np.append(x, [5.0, 11.0]))        # stays unsorted as it grows
    assert check("a", x[:4])                                 # shorter: a new series, checked afresh
    assert check("b", np.array([1.0, 1.0, 2.0]))             # equal x (a repeated step) is still sorted
