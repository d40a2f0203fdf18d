"""The Curate page's clip preview: the selected clip's samples read off the GUI thread, then played
with its card (status, drop reason, metrics) and its flagged issues."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer

from stickgen_core.curation import PRETRAIN_RULES
from stickgen_core.curation.session import SFT
from stickgen_core.io import load_torch_file, samples_from_object

from .. import palette
from ..widgets.clip_card import ClipCard
from ..workers import Task
from .table_model import status_label


def read_samples(file: str) -> list:
    """A dataset file's clips for previews: a packed file is mapped (one clip read on demand); a ``.pt``
    list is read whole, not memory-mapped (a file truncated while mapped would kill the studio with SIGBUS)."""
    from stickgen_core.packed import PackedClips, is_packed
    if is_packed(file):
        return PackedClips(file)  # type: ignore[return-value]
    return samples_from_object(load_torch_file(file), file)


class ClipPreview:
    """One dataset file's clips in memory for previews (``cache``), read in the background on demand."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.cache: dict[str, list] = {}
        self.task: Task | None = None
        self.generation = 0  # bumped whenever the clips on show change (a read then in flight is stale)

    def new_data(self, samples: dict[str, list] | None = None) -> None:
        """Other clips are on show: forget what was read (``samples``: clips already in memory)."""
        self.generation += 1
        self.cache = dict(samples or {})

    def read(self, file: str) -> None:
        """Read ``file`` in the background (a 10,000-clip file takes seconds); the clip selected by the
        time it arrives is shown. The viewer says what it waits for, with a clock: a long read is not a hang."""
        p = self.panel
        if self.task is not None:
            return  # one read at a time; when it ends, the clip selected by then is shown
        read_ok, data_then = [], self.generation
        try:
            size = f" ({Path(file).stat().st_size / 1e6:,.0f} MB)"
        except OSError:
            size = ""
        t0, ticker = time.monotonic(), QTimer(p)

        def waiting() -> None:
            p.player.show_message(f"Reading {Path(file).name}{size} to show this clip… {time.monotonic() - t0:.0f} s")

        def arrived(samples: list) -> None:
            if self.generation != data_then:
                return  # the data changed while the file was read: this copy may be stale
            self.cache = {file: samples}  # one file at a time is plenty for previews
            read_ok.append(True)
            p.status.emit(f"{Path(file).name}: {len(samples):,} clips ready to preview")

        def ended() -> None:
            self.task = None
            ticker.stop()
            ticker.deleteLater()
            if p._closing:
                return
            if not read_ok:
                p.player.show_message(None)
            row = p.view.currentIndex().row()
            # after a failed read only another file's clip is tried (the same one would fail again)
            if read_ok or (p.table is not None and row >= 0 and p.table.iloc[p.model.table_row(row)]["file"] != file):
                p.show_clip(row)

        task = Task(read_samples, file, name="preview")
        task.finished.connect(arrived)
        task.failed.connect(lambda msg: p.show_error("Could not show the clip", msg))
        task.ended.connect(ended)
        self.task = task
        p.status.emit(f"Loading {Path(file).name} to preview its clips…")
        ticker.timeout.connect(waiting)
        ticker.start(1000)
        waiting()
        task.start()

    def play(self, rec, code: int, quality: float) -> None:
        """Play clip ``rec`` (a table row) with split status ``code``, reading its file first if needed."""
        p = self.panel
        if rec["file"] not in self.cache:
            self.read(rec["file"])
            return
        try:
            s = self.cache[rec["file"]][int(rec["index"])]
        except IndexError:
            p.show_error("Could not show the clip", f"{rec['file']}: clip {int(rec['index'])} is not in the file "
                         "any more (it changed since it was annotated); add it again")
            return
        motion = s["motion"].numpy()
        fps, ground = float(rec["fps"]), float(rec["ground_y"])
        # the ground annotation settled on for this clip (0 for our sources, else estimated)
        from stickgen_core.issues import curation_issues  # loaded by the first annotation already
        from stickgen_core.metrics import ClipInput

        issues = curation_issues(ClipInput(motion, fps, ground=ground))
        reason = "" if code < 0 else PRETRAIN_RULES[code].replace("_", " ")
        metrics = {"quality": quality,
                   **{k: float(rec[k]) for k in ("artifact_score", "realism_score", "camera_stability") if k in rec},
                   "frames": int(rec["n_frames"])}
        # a dropped clip reads "✗ dropped — low realism" (its table label is the reason itself)
        card = ClipCard.from_sample(s, status="✗ dropped" if code >= 0 else status_label(code), drop_reason=reason,
                                    source=str(rec["source"]), action=str(rec["dominant_action"]), metrics=metrics,
                                    status_colour=palette.DROPPED if code >= 0 else
                                    (palette.SFT if code == SFT else palette.PRETRAIN_ONLY))
        p.player.set_clip(motion, fps, issues, card, ground=ground)
        p.renders.show_clip(str(rec.get("clip_id", "")), p.workspace.root if p.workspace else None)
        p.player.play()
