"""The playground's Refine box: enabled only for checkpoints with a diffusion refiner, and it switches refinement."""

import shutil

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QStyle

from stickgen_core.train.checkpoint import BEST
from stickgen_studio.evaluate.playground import COMPILING
from tests.gui.evaluate.test_critic_compare_playground import show_tab
from tests.gui.user import click
from tests.test_inference_eval import train_tiny_checkpoint
from tests.test_train import DIFFUSION


def test_refine_box_follows_the_checkpoint_and_switches_refinement(eval_window, eval_workspace, qtbot,
                                                                    tmp_path_factory):
    refined = train_tiny_checkpoint(tmp_path_factory.mktemp("refined"), **DIFFUSION)
    folder = eval_workspace / "runs" / "refined" / "checkpoints"
    folder.mkdir(parents=True)
    shutil.copy(refined, folder / BEST)
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    pg.refresh()
    box = pg.checkpoint
    box.setCurrentIndex(box.findData(str(eval_workspace / "runs" / "tiny" / "checkpoints" / BEST)))
    # greyed and ticked read as "refinement is on": a checkpoint without a refiner shows the box unticked
    assert not pg.refine.isEnabled() and not pg.refine.isChecked() and "no diffusion refinement" in pg.refine.toolTip()
    box.setCurrentIndex(box.findData(str(folder / BEST)))
    assert pg.refine.isEnabled() and pg.refine.isChecked()
    got = []
    pg.generated.connect(got.append)
    for k in range(2):
        if k == 1:  # untick (on the box itself) for the second generation
            click(pg.refine, QPoint(pg.refine.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) // 2 + 1,
                                    pg.refine.height() // 2))
            assert not pg.refine.isChecked()
        click(pg.generate_button)
        qtbot.waitUntil(lambda: len(got) > k or eval_window.evaluate.last_error is not None, timeout=120_000)
        assert eval_window.evaluate.last_error is None, eval_window.evaluate.last_error
    assert got[0]["refined"] and not got[1]["refined"]
    assert not (got[0]["motion"] == got[1]["motion"]).all()
    # the user's untick survives a look at a checkpoint without a refiner
    box.setCurrentIndex(box.findData(str(eval_workspace / "runs" / "tiny" / "checkpoints" / BEST)))
    box.setCurrentIndex(box.findData(str(folder / BEST)))
    assert pg.refine.isEnabled() and not pg.refine.isChecked()


def test_the_int8_box_generates_with_int8_weights_and_says_so(eval_window, eval_workspace, qtbot):
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    pg.refresh()
    box = pg.checkpoint
    box.setCurrentIndex(box.findData(str(eval_workspace / "runs" / "tiny" / "checkpoints" / BEST)))
    got = []
    pg.generated.connect(got.append)
    for k in range(3):
        if k == 1:  # tick int8 (on the box itself) for the second generation
            click(pg.int8, QPoint(pg.int8.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) // 2 + 1,
                                  pg.int8.height() // 2))
            assert pg.int8.isChecked()
        click(pg.generate_button)
        # the first fast generation compiles for seconds: the banner says so instead of looking hung
        assert (pg.banner.text() == COMPILING) == (k == 1), (k, pg.banner.text())
        qtbot.waitUntil(lambda: len(got) > k or eval_window.evaluate.last_error is not None, timeout=120_000)
        assert eval_window.evaluate.last_error is None, eval_window.evaluate.last_error
        assert pg.banner.text() != COMPILING
    assert (got[0]["weights"], got[0]["step"]) == ("float32", "eager")
    assert (got[1]["weights"], got[1]["step"]) == ("int8", "compiled")   # the fast path compiles its frame step
    assert (got[2]["weights"], got[2]["step"]) == ("int8", "compiled")
    assert "with int8 weights (compiled step)" in eval_window.statusBar().currentMessage()
    a, b = got[0]["motion"], got[1]["motion"]
    assert not (a == b).all() and (a - b).abs().mean() <= 0.05 * a.std()   # close, not the same numbers
