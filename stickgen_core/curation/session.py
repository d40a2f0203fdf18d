"""``CurationSession``: the Curate page's state without Qt (datasets, thresholds, metrics table,
result, selection, export target), emitting a change event for each part.

napari's idea of headless models that emit events: the studio's panel subscribes and renders,
and forwards what the user does as calls; a script drives the same object. Events are psygnal
signals (synchronous, no Qt, weakly held bound-method slots): a slider move is
``set_threshold`` -> ``apply_thresholds`` on the prepared table (only the moved rule is
recomputed) -> ``result_changed``.

    session = CurationSession(Workspace.open("ws"))
    session.load_datasets(["ws/datasets/clips.pt"])
    session.set_threshold("min_quality_pretrain", 0.7)
    print(session.counts())          # {'total': ..., 'pretrain': ..., 'sft': ..., 'dropped': ...}
    session.export()                 # into ws/curated/
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from psygnal import Signal

from ..errors import ConfigError
from ..workspace import Workspace
from .config import CurationConfig
from .export import OUTPUT_FILES, export_splits
from .thresholds import CurationResult, PreparedTable, apply_thresholds, prepare_table

log = logging.getLogger(__name__)

#: Split status per row (``status_codes``): in SFT, pretrain only, or >= 0 the PRETRAIN_RULES index it failed.
SFT, PRETRAIN_ONLY = -2, -1
Problems = list[tuple[str, str]]  # (file, what went wrong)


class CurationSession:
    """State of one curation: which files, their metrics table, the thresholds, the splits they give."""

    files_changed = Signal()            # wanted files, loaded files or their problems
    table_changed = Signal(object)      # a new metrics table (pd.DataFrame, or None when emptied)
    config_changed = Signal(object)     # the CurationConfig now in force
    result_changed = Signal(object)     # the CurationResult of (table, config), or None without a table
    selection_changed = Signal(object)  # the selected table row (int), or None
    exported = Signal(dict)             # split name -> file written

    def __init__(self, workspace: Workspace | None = None, config: CurationConfig | None = None) -> None:
        self.workspace = workspace
        self.config = config or CurationConfig()
        self.wanted: list[str] = []       # dataset files asked for, in order (annotated together)
        self.files: list[str] = []        # the files the table's rows come from
        self.problems: Problems = []      # files that could not be annotated
        self.import_problems: Problems = []  # files that could not be converted or read
        self.table: pd.DataFrame | None = None
        self.prepared: PreparedTable | None = None
        self.result: CurationResult | None = None
        self.selected: int | None = None
        self.export_target: Path | None = None  # the folder chosen for the last export
        self.last_export: dict[str, str] | None = None
        self.last_update_ms = 0.0         # the last recompute's time (the slider's share of a repaint)

    # ------------------------------------------------------------------ datasets
    def set_workspace(self, workspace: Workspace | None) -> None:
        """Another workspace: its files are asked for afresh (the table stays until they are annotated)."""
        self.workspace = workspace
        self.wanted = []
        self.files_changed.emit()

    def want(self, paths: list[str]) -> list[str]:
        """Add dataset files to those annotated together (the workspace remembers them); the wanted list."""
        paths = [str(p) for p in paths]
        self.wanted = list(dict.fromkeys(self.wanted + paths))
        if self.workspace is not None:
            self.workspace.remember(paths)
        self.files_changed.emit()
        return self.wanted

    def forget(self, path: str) -> None:
        """Take a file out of the session (and the workspace's view; the file is left alone). The
        caller annotates ``wanted`` again; with none left the table empties here."""
        if self.workspace is not None:
            self.workspace.forget(path)
        self.problems = [(f, m) for f, m in self.problems if f != path]
        self.import_problems = [(f, m) for f, m in self.import_problems if f != path]
        self.wanted = [f for f in self.wanted if f != path]
        if not self.wanted:
            self.set_table(None, [])
        self.files_changed.emit()

    def note_import_problems(self, problems: Problems) -> None:
        """Files an import could not convert: replace earlier problems of the same files."""
        known = {f for f, _ in problems}
        self.import_problems = [(f, m) for f, m in self.import_problems if f not in known] + list(problems)
        self.files_changed.emit()

    def set_problems(self, problems: Problems) -> None:
        """Files an annotation could not read (a failed annotation's, as far as it got)."""
        self.problems = list(problems)
        self.files_changed.emit()

    def all_problems(self) -> Problems:
        return self.import_problems + self.problems

    def annotate(self, files: list[str] | None = None, *, errors: Problems | None = None,
                 **kwargs: Any) -> pd.DataFrame:
        """The metrics table of ``files`` (default: the wanted ones); unreadable files go to ``errors``
        as they are met. Work without an event (the studio runs it in a worker, then ``set_table``)."""
        from ..annotate import annotate  # torch: imported when annotating, not when the session is made

        return annotate(list(self.wanted if files is None else files), errors=errors, **kwargs)

    def load_datasets(self, paths: list[str], **kwargs: Any) -> pd.DataFrame:
        """``want`` + ``annotate`` + ``set_table`` in this thread (a script's one call)."""
        files, problems = self.want(paths), []
        table = self.annotate(files, errors=problems, **kwargs)
        bad = {f for f, _ in problems}
        self.set_table(table, [f for f in files if f not in bad], problems)
        return table

    def generate_demo(self, num_samples: int, progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      on_partial: Callable[[Any], None] | None = None) -> list[str]:
        """Write the workspace's demo dataset of ``num_samples`` clips; [its path] (no event: a worker's call)."""
        from ..demo import generate_demo_dataset  # torch: imported when used

        if self.workspace is None:
            raise ConfigError("generate_demo: the session has no workspace to write the demo dataset into")
        generate_demo_dataset(self.workspace.root, num_samples=num_samples, progress=progress,
                              should_stop=should_stop, on_partial=on_partial)
        return [str(self.workspace.demo_dataset)]

    def set_table(self, table: pd.DataFrame | None, files: list[str], problems: Problems | None = None) -> None:
        """A new metrics table (rows of ``files``); the splits are recomputed under the current config."""
        self.files = list(files)
        if problems is not None:
            self.problems = list(problems)
        self.table = table
        self.prepared = prepare_table(table) if table is not None else None
        self.selected = None
        self.table_changed.emit(table)
        self.files_changed.emit()
        self.recompute()

    # ------------------------------------------------------------------ thresholds
    def set_config(self, config: CurationConfig) -> None:
        """Thresholds in force from now (a config made elsewhere is already validated)."""
        if not isinstance(config, CurationConfig):
            raise ConfigError(f"data_curation: expected a CurationConfig, got {type(config).__name__}")
        self.config = config
        self.config_changed.emit(config)
        self.recompute()

    def set_threshold(self, name: str, value: Any) -> None:
        """One setting changed (a slider); ConfigError naming ``data_curation.<name>`` leaves the config as it was."""
        if name not in {f.name for f in dataclasses.fields(CurationConfig)}:
            raise ConfigError(f"data_curation.{name[:60]}: unknown setting")
        self.set_config(dataclasses.replace(self.config, **{name: value}))

    def load_thresholds(self, path: str | Path) -> CurationConfig:
        """The ``data_curation`` section of a YAML file, put in force."""
        cfg = CurationConfig.from_yaml(path)
        self.set_config(cfg)
        return cfg

    def save_thresholds(self, path: str | Path | None = None) -> Path:
        """Write the thresholds into ``path`` (default: the workspace's curation.yaml), keeping its other sections."""
        if path is None:
            if self.workspace is None:
                raise ConfigError("save_thresholds: no path given and the session has no workspace")
            path = self.workspace.thresholds_path
        return self.config.save_to_yaml(path)

    # ------------------------------------------------------------------ splits
    def recompute(self) -> CurationResult | None:
        """The splits of the table under the config (None without a table); ``result_changed`` fires."""
        t0 = time.perf_counter()
        self.result = apply_thresholds(self.prepared, self.config) if self.prepared is not None else None
        self.last_update_ms = (time.perf_counter() - t0) * 1000
        self.result_changed.emit(self.result)
        return self.result

    def counts(self) -> dict[str, int]:
        """total / pretrain / sft / dropped clips under the current thresholds (zeros without a table)."""
        stats = self.result.stats if self.result is not None else {}
        return {k: int(stats.get(k, 0)) for k in ("total", "pretrain", "sft", "dropped")}

    def status_codes(self) -> np.ndarray:
        """int8 per row: ``SFT``, ``PRETRAIN_ONLY``, or the PRETRAIN_RULES index that dropped it."""
        r = self.result
        if r is None:
            return np.zeros(0, dtype=np.int8)
        return np.where(r.sft, SFT, np.where(r.pretrain, PRETRAIN_ONLY, r.pretrain_reason)).astype(np.int8)

    # ------------------------------------------------------------------ selection
    def select(self, row: int | None) -> None:
        """The clip the user looks at (a table row), or None."""
        if row is not None and (self.table is None or not 0 <= row < len(self.table)):
            raise IndexError(f"clip row {row}: the table has {0 if self.table is None else len(self.table)} rows")
        if row != self.selected:
            self.selected = row
            self.selection_changed.emit(row)

    def selected_clip(self) -> pd.Series | None:
        return None if self.selected is None or self.table is None else self.table.iloc[self.selected]

    # ------------------------------------------------------------------ export
    def export_dir(self, output_dir: str | Path | None = None) -> Path:
        """Where an export goes: ``output_dir``, else the last export's folder, else the workspace's curated/."""
        if output_dir is not None:
            return Path(output_dir)
        if self.export_target is not None:
            return self.export_target
        if self.workspace is None:
            raise ConfigError("export: no output folder given and the session has no workspace")
        return self.workspace.curated_dir

    def existing_exports(self, output_dir: str | Path | None = None) -> list[str]:
        """The split files an export into ``output_dir`` would replace."""
        out = self.export_dir(output_dir)
        return [n for n in OUTPUT_FILES if (out / n).exists()]

    def export_job(self, output_dir: str | Path | None = None) -> Callable[..., dict[str, Path]]:
        """The export of the current splits as a call (for a worker thread: it reads a snapshot of
        table, result and config, never the session); ``exported_to`` records its answer."""
        if self.table is None or self.result is None:
            raise ConfigError("export: no clips loaded")
        table, result, config, out = self.table, self.result, self.config, self.export_dir(output_dir)
        self.export_target = out

        def run(progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> dict[str, Path]:
            return export_splits(table, result, out, config, progress=progress, should_stop=should_stop)

        return run

    def exported_to(self, paths: dict[str, Path]) -> None:
        self.last_export = {k: str(v) for k, v in paths.items()}
        self.exported.emit(dict(self.last_export))

    def export(self, output_dir: str | Path | None = None) -> dict[str, str]:
        """Write the splits in this thread (a script's call); split name -> file."""
        self.exported_to(self.export_job(output_dir)())
        return dict(self.last_export or {})
