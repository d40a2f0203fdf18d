"""The Curate page's renders strip: a clip rendered under <workspace>/parallax shows one thumbnail per view with
its camera; a clip without renders shows none (issue 29)."""

import pytest

from stickgen_core.io import load_dataset
from stickgen_core.parallax.writer import RenderSettings, render_dataset

from .conftest import shot
from .user import click

RENDERED = range(0, 150, 2)  # every other clip of the workspace's file


@pytest.fixture
def workspace(workspace):
    """The conftest's workspace, with renders of every other clip under <workspace>/parallax."""
    samples = load_dataset(workspace / "datasets" / "clips.pt").samples
    render_dataset(samples, workspace / "parallax" / "p32", RenderSettings(views=3, frames_per_view=1, size=32),
                   indices=RENDERED)
    return workspace


def row_of(cur, rendered: bool) -> int:
    for r in range(cur.model.rowCount()):
        if (int(cur.table.iloc[cur.model.table_row(r)]["index"]) in RENDERED) == rendered:
            return r
    raise AssertionError("no such row")


def test_a_rendered_clip_shows_its_views_and_an_unrendered_one_none(window, qtbot):
    cur = window.curate
    strip = cur.renders
    for rendered in (True, False, True):
        row = row_of(cur, rendered)
        click(cur.view.viewport(), cur.view.visualRect(cur.model.index(row, 1)).center())
        qtbot.waitUntil(lambda: cur.player.is_playing(), timeout=60_000)
        qtbot.waitUntil(lambda: strip.task is None, timeout=60_000)
        qtbot.waitUntil(lambda: strip.isVisible() == rendered, timeout=10_000)
        thumbs = [strip.row.itemAt(i).widget() for i in range(strip.row.count()) if strip.row.itemAt(i).widget()]
        if rendered:
            assert len(thumbs) == 3 and strip.title.text().startswith("Parallax renders · 3 views · p32/sample_")
            assert all(t.toolTip().startswith(f"view {k} · camera (") and "fov" in t.toolTip()
                       for k, t in enumerate(thumbs))
            shot(window, "curate_renders_strip")
