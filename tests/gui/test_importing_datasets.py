"""Public-dataset files in the Curate panel: an NTU two-person skeleton, an AIST++ pickle and a
KIT-ML folder, dropped (generated here, no ../shared needed); the two people reach the viewer."""

import numpy as np
from PySide6.QtWidgets import QApplication

from stickgen_studio.curate import importing
from tests.dataset_layouts import walk_3d, write_aist, write_kitml, write_ntu
from tests.gui.conftest import shot
from tests.gui.test_importing import drop, list_texts


def test_dropped_dataset_files_load_and_two_people_reach_the_viewer(window, qtbot, tmp_path):
    cur = window.curate
    second = walk_3d(3.0, 30.0, seed=1)
    second[..., 2] += 1.2  # beside the first, 1.2 m further from the camera
    second[..., 0] += 1.0
    ntu = write_ntu(tmp_path / "S001C001P001R001A059.skeleton", [walk_3d(3.0, 30.0), second])
    aist = write_aist(tmp_path / "aist", "gPO_sFM_cAll_d11_mPO1_ch02", walk_3d(3.0, 60.0))
    write_kitml(tmp_path / "KIT-ML", "00007", walk_3d(3.0, 12.5), "a man walks")
    assert all(importing.accepts(p) for p in (ntu, aist, tmp_path / "KIT-ML"))
    rows = cur.model.rowCount()
    drop(cur.data_box, [ntu, aist, tmp_path / "KIT-ML"])
    qtbot.waitUntil(lambda: not cur.tasks.busy() and cur.model.rowCount() == rows + 3, timeout=120_000)
    texts = list_texts(cur)
    assert "S001C001P001R001A059 (converted) — 1 clips" in texts
    table = cur.table
    row = int(np.flatnonzero(table["file"].str.contains("A059").to_numpy())[0])
    assert table["actors"].iloc[row] == 2 and table["valid"].iloc[row]
    assert set(table.loc[table["source"] == "mocap", "description"]) >= {
        "two people: walking towards each other", "a person dances in the pop style", "a man walks"}
    cur.view.selectRow(cur.model.view_row_of(row))  # as a click on its row: read, then shown
    qtbot.waitUntil(lambda: getattr(cur.player.canvas, "_m", np.zeros((1, 1, 48))).shape[1] == 2, timeout=30_000)
    QApplication.processEvents()
    shot(window, "curate_ntu_two_people")
