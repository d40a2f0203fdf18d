"""A metrics poll that brings only an epoch row (the trainer's last line: validation after the final
step) still draws that validation point and moves the best-epoch star to it.

Driven at the level of the data (``parse_rows`` -> ``RunSeries``) and of the Train page's poll
handler, with no run folder and no training."""

from __future__ import annotations

import numpy as np
import pytest

from stickgen_studio.train.live_plots import LivePlots
from stickgen_studio.train.poller import RunState
from stickgen_studio.train.series import RunSeries, parse_rows

SPE = 10  # steps per epoch


def _steps(first: int, last: int) -> list[dict]:
    return [{"type": "step", "epoch": (s - 1) // SPE, "step": s, "lr": 1e-3, "samples_per_s": 40.0,
             "train_total": 2.0 + 0.01 * (s % 3), "time": f"2026-01-01T00:00:{s % 60:02d}+00:00"} for s in range(first, last + 1)]


def _epoch(e: int, val: float) -> dict:
    return {"type": "epoch", "epoch": e, "step": (e + 1) * SPE, "train_loss": 2.0, "val_total": val,
            "time": "2026-01-01T00:01:00+00:00"}


FIRST_POLL = _steps(1, 20) + [_epoch(0, 1.5)] + [_epoch(1, 1.2)]
LAST_POLL = [_epoch(2, 0.9)]          # nothing but the final validation


def test_an_epoch_only_poll_adds_an_epoch_and_nothing_else():
    steps, epochs = parse_rows(LAST_POLL)
    assert steps == {} and epochs["val_total"].tolist() == [0.9]
    s = RunSeries("a")
    s.add(*parse_rows(FIRST_POLL))
    s.add(steps, epochs)
    assert (s.steps.n, s.epochs.n) == (20, 3)
    assert s.best() == (2, 0.9)


def _val_points(plots: LivePlots) -> tuple[np.ndarray, np.ndarray]:
    item = plots.curves()["a · val total"]
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


def _stars(plots: LivePlots) -> list[tuple[float, float]]:
    scatter = [m for m in plots._marks if hasattr(m, "getData") and not hasattr(m, "label")]
    assert len(scatter) == 1
    x, y = scatter[0].getData()
    return list(zip(np.asarray(x).tolist(), np.asarray(y).tolist()))


def _best_labels(plots: LivePlots) -> list[str]:
    return [m.label.toPlainText() for m in plots._marks if getattr(m, "label", None) is not None]


@pytest.fixture
def plots(qtbot):
    w = LivePlots()
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    return w


def test_live_plots_draw_the_final_validation_point_and_star(plots):
    s = RunSeries("a")
    s.add(*parse_rows(FIRST_POLL))
    plots.show_runs(["a"])
    plots.update_series({"a": s})
    x, y = _val_points(plots)
    assert y.tolist() == [1.5, 1.2] and _stars(plots) == [(20.0, 1.2)]
    s.add(*parse_rows(LAST_POLL))
    plots.update_series({"a": s})
    x, y = _val_points(plots)
    assert x.tolist() == [10.0, 20.0, 30.0] and y.tolist() == [1.5, 1.2, 0.9]
    assert _stars(plots) == [(30.0, 0.9)] and _best_labels(plots) == ["best a e3"]


def test_the_train_page_shows_an_epoch_only_poll(qtbot):
    from stickgen_studio.train.page import TrainPage

    page = TrainPage()
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()

    def poll(rows: list[dict]) -> None:
        steps, epochs = parse_rows(rows)
        page._on_poll([RunState("a", "/nonexistent/a", {"run_id": "a"}, {"state": "running"}, steps, epochs, 3)])

    poll(FIRST_POLL)
    page.plots.show_runs(["a"])
    page.plots.update_series(page.series)
    assert _val_points(page.plots)[1].tolist() == [1.5, 1.2]
    poll(LAST_POLL)
    assert _val_points(page.plots)[1].tolist() == [1.5, 1.2, 0.9]
    assert _stars(page.plots) == [(30.0, 0.9)] and _best_labels(page.plots) == ["best a e3"]
    page.shutdown()
