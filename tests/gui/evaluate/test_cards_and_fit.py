"""The critic card shows the clip's physical metrics; the Compare suite table fits beside the prompts."""

from pathlib import Path

import numpy as np
import pytest

from stickgen_core.convert import convert_file
from stickgen_core.evaluation import physical_metrics
from stickgen_core.io import save_dataset
from stickgen_core.synth import SynthConfig, generate_sample
from tests.gui.evaluate.test_critic_compare_playground import show_tab
from tests.gui.evaluate.test_report_browser import report_open_at
from tests.gui.user import click

DATA = Path(__file__).parents[4] / "shared" / "data"
CMU_WALK = DATA / "bvh" / "cmu_131_01_walk.bvh"


def card_rows(viewer) -> dict[str, str]:
    """What the clip card beside the viewer reads: label -> value."""
    form = viewer.card_view.metrics
    return {form.itemAt(r, form.ItemRole.LabelRole).widget().text(): form.itemAt(r, form.ItemRole.FieldRole).widget().text()
            for r in range(form.rowCount())}


def test_the_critic_card_shows_the_clips_physical_metrics(eval_window, qtbot, tmp_path):
    cfg = SynthConfig(actions=("walk",), multi_actor_rate=0.0, min_seconds=4, max_seconds=6)
    clean = generate_sample(0, seed=5, config=SynthConfig(**{**vars(cfg), "defect_rate": 0.0}))
    shaky = generate_sample(0, seed=5, config=SynthConfig(**{**vars(cfg), "defect_rate": 1.0,
                                                            "defect_types": ("jitter",)}))
    path = tmp_path / "pair.pt"
    save_dataset([clean, shaky], path)
    critic = show_tab(eval_window, qtbot, eval_window.evaluate.critic)
    shown = []
    for k, s in enumerate((clean, shaky)):
        assert critic.open_file(str(path), k)
        rows = card_rows(critic.viewer)
        want = physical_metrics([s["motion"].numpy()], 25.0)
        assert rows["foot skating"] == format(float(want["foot_skating_ratio"][0]), ".0%")
        assert rows["jerk (m/s³)"] == format(float(want["mean_jerk"][0]), ".0f")
        assert rows["bone-length var."] == format(float(want["bone_length_variation"][0]), ".1%")
        assert rows["below ground"] == format(float(want["ground_penetration_ratio"][0]), ".0%")
        shown.append(float(rows["jerk (m/s³)"]))
    assert shown[1] > 2 * shown[0]  # the injected jitter reads on the card


@pytest.mark.shared_data("bvh/cmu_131_01_walk.bvh")
def test_a_real_capture_reads_as_plausible_on_the_card(eval_window, qtbot, tmp_path):
    path = tmp_path / "cmu.pt"
    save_dataset(convert_file(CMU_WALK, "bvh"), path)
    critic = show_tab(eval_window, qtbot, eval_window.evaluate.critic)
    assert critic.open_file(str(path))
    assert critic.banner.text().startswith("<b>SAFE</b>")  # a person's walk passes the critic
    rows = card_rows(critic.viewer)
    assert rows["below ground"] == "0%" and float(rows["max depth"].split()[0]) < 0.1


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_the_compare_suite_table_fits_without_scrolling(eval_window, qtbot, size):
    cmp = show_tab(eval_window, qtbot, report_open_at(eval_window, qtbot, size).compare)
    click(cmp.compare_button)
    qtbot.waitUntil(lambda: cmp.suites.rowCount() > 0)
    view, head = cmp.suite_view, cmp.suite_view.horizontalHeader()
    qtbot.waitUntil(lambda: head.length() <= view.viewport().width())
    assert view.horizontalScrollBar().maximum() == 0
    for col in range(1, cmp.suites.columnCount()):  # every number column and its header whole
        assert head.sectionSize(col) >= head.sectionSizeHint(col), cmp.suites.columns[col][0]
    if size[0] >= 1280:  # the suite names whole too
        fm = view.fontMetrics()
        names = [cmp.suites.data(cmp.suites.index(r, 0)) for r in range(cmp.suites.rowCount())]
        assert head.sectionSize(0) >= max(fm.horizontalAdvance(n) for n in names) + 8
