"""The launch form: config, stage, data, resume/init checkpoint, LoRA, loss weights, epochs/batch/lr,
backend. It builds a ``JobSpec``, checks it with the core's ``preflight`` as the user types (the
core's message shows inline) and gives the exact ``stickgen jobs launch`` line."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QTabWidget, QVBoxLayout,
                               QWidget)

from stickgen_core.config import LoraConfig, LossWeights, TrainingConfig, load_config
from stickgen_core.config_fields import describe
from stickgen_core.curation.export import PRETRAIN_FILE, SFT_FILE
from stickgen_core.errors import StickGenError
from stickgen_core.io import DATASET_SUFFIXES
from stickgen_core.jobs import JobSpec, LoraSpec, launch_command, preflight
from stickgen_core.jobs.spec import CONFIG_DIR

from ..widgets.elided_path_edit import ElidedPathEdit
from .backend_box import BackendBox
from .config_preview import ConfigPreview
from .parallax_box import ParallaxBox

START_MODES = (("scratch", "New weights"), ("resume", "Resume a run (resume_from)"),
               ("init", "Warm start from weights (init_from)"))
START_HELP = {
    "scratch": "Training starts from randomly initialised weights at epoch 0.",
    "resume": "resume_from continues the <b>same run</b>: weights, optimizer, scheduler and step are restored "
              "and training goes on from where the checkpoint stopped.",
    "init": "init_from loads the <b>weights only</b> (e.g. a pretrained best checkpoint for SFT); the optimizer "
            "and scheduler start fresh and training starts at epoch 0.",
}
LOSS_TERMS = [f.name for f in fields(LossWeights)]


def _spin(lo: float, hi: float, decimals: int = 0, step: float = 1.0):
    box = QDoubleSpinBox() if decimals else QSpinBox()
    box.setRange(lo, hi)
    if decimals:
        box.setDecimals(decimals)
        box.setSingleStep(step)
    return box


class LaunchForm(QWidget):
    launch_requested = Signal(object)   # a preflighted JobSpec

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace: Path | None = None
        self.latest_export: dict[str, Path] = {}    # split -> file, from the Curate page's last export
        self._cfg: dict[str, Any] = {}
        self._overrides: dict[str, Any] = {}    # carried from a spec set by code (not editable here)
        self._loading = False
        self.config = QComboBox()
        self.config.setToolTip("configs/*.yaml of the project and the workspace's own configs/")
        self.browse_config = QPushButton("…")
        self.stage = QComboBox()
        self.stage.addItems(["pretrain", "sft"])
        self.data = QComboBox()
        self.data.setEditable(True)
        self.data.setLineEdit(ElidedPathEdit())
        self.data.setToolTip("A curated split; a split without text embeddings is embedded by the job first")
        self.browse_data = QPushButton("…")
        self.data_note = QLabel("The Curate page's latest export comes first. A split without text embeddings "
                                "is embedded by the job before training.")
        self.start_mode = QComboBox()
        for key, label in START_MODES:
            self.start_mode.addItem(label, key)
        self.checkpoint = QComboBox()
        self.checkpoint.setEditable(True)
        self.checkpoint.setLineEdit(ElidedPathEdit())
        for box in (self.data, self.checkpoint):    # the list elides long paths in the middle too
            box.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for box in (self.config, self.stage, self.data, self.start_mode, self.checkpoint):
            # sized by a short minimum, not by the longest entry: the form fits its pane at 1024 px
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        self.checkpoint.setToolTip("Checkpoints of the workspace's runs (best and latest), or any path")
        self.start_help = QLabel()
        self.start_help.setWordWrap(True)
        self.epochs, self.batch = _spin(1, 100_000), _spin(1, 65_536)
        self.lr = _spin(1e-8, 10.0, decimals=8, step=1e-5)
        self.gpu_count = _spin(1, 64)
        self.batch_note = QLabel()
        self.batch_note.setWordWrap(True)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("automatic (stage-date-time)")

        self.lora = QGroupBox("LoRA adapters (train adapters only)")
        self.lora.setCheckable(True)
        self.lora_rank, self.lora_alpha = _spin(1, 1024), _spin(1, 4096)
        self.lora_dropout = _spin(0.0, 0.99, decimals=3, step=0.01)
        self.lora_modules = QLineEdit()
        lf = QFormLayout(self.lora)
        for label, w in (("Rank", self.lora_rank), ("Alpha", self.lora_alpha), ("Dropout", self.lora_dropout),
                         ("Target modules", self.lora_modules)):
            lf.addRow(label, w)
        self.weights = {name: _spin(0.0, 100.0, decimals=3, step=0.05) for name in LOSS_TERMS}
        wbox = QGroupBox("Loss weights")
        wf = QFormLayout(wbox)
        for name, w in self.weights.items():
            wf.addRow(name, w)
        # each control's tooltip is its key's help, range and key path (the words of `stickgen jobs launch --help`)
        for w, cls, name in ((self.stage, TrainingConfig, "stage"), (self.epochs, TrainingConfig, "epochs"),
                             (self.batch, TrainingConfig, "batch_size"), (self.lr, TrainingConfig, "learning_rate"),
                             (self.gpu_count, JobSpec, "gpu_count"), (self.run_name, JobSpec, "run_name"),
                             (self.lora, LoraConfig, "enabled"), (self.lora_rank, LoraConfig, "rank"),
                             (self.lora_alpha, LoraConfig, "alpha"), (self.lora_dropout, LoraConfig, "dropout"),
                             (self.lora_modules, LoraConfig, "target_modules"),
                             *((box, LossWeights, term) for term, box in self.weights.items())):
            w.setToolTip(describe(cls, name) + (" Comma-separated." if w is self.lora_modules else ""))

        self.backend = BackendBox()
        self.parallax = ParallaxBox()
        self.preview = ConfigPreview()
        job = QWidget()
        jf = QFormLayout(job)
        for label, w in (("Config", self._with(self.config, self.browse_config)), ("Stage", self.stage),
                         ("Data", self._with(self.data, self.browse_data)), ("", self.data_note),
                         ("Start from", self.start_mode), ("Checkpoint", self.checkpoint), ("", self.start_help),
                         ("Epochs", self.epochs), ("Batch size", self.batch), ("GPUs", self.gpu_count),
                         ("", self.batch_note), ("Learning rate", self.lr),
                         ("Run name", self.run_name)):
            jf.addRow(label, w)
        self.data_note.setWordWrap(True)
        self._wrapped = (self.data_note, self.start_help)
        for label in self._wrapped:
            label.installEventFilter(self)
        model = QWidget()
        ml = QVBoxLayout(model)
        ml.addWidget(self.lora)
        ml.addWidget(wbox)
        ml.addStretch(1)
        self.tabs = QTabWidget()
        for w, name in ((job, "Job"), (model, "LoRA && losses"), (self.parallax, "Images"),
                        (self.backend, "Backend"), (self.preview, "Config")):
            self.tabs.addTab(w, name)
        self.problem = QLabel()
        self.problem.setObjectName("formProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("QLabel#formProblem { color: #b00020; }")
        self.cli = QLineEdit()
        self.cli.setReadOnly(True)
        self.cli.setToolTip("The same launch from a terminal")
        self.cli.setPlaceholderText("the CLI line shows once the job is set")
        self.copy_cli = QPushButton("Copy as CLI command")
        self.launch_button = QPushButton("Launch")
        self.launch_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_cli)
        buttons.addStretch(1)
        buttons.addWidget(self.launch_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.problem)
        lay.addWidget(self.cli)
        lay.addLayout(buttons)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(150)
        self._check_timer.timeout.connect(self.check)
        self.config.currentIndexChanged.connect(self._config_changed)
        self.stage.currentIndexChanged.connect(self._stage_changed)
        self.start_mode.currentIndexChanged.connect(self._start_changed)
        for sig in (self.data.currentTextChanged, self.checkpoint.currentTextChanged, self.epochs.valueChanged,
                    self.batch.valueChanged, self.gpu_count.valueChanged, self.lr.valueChanged,
                    self.run_name.textChanged, self.lora.toggled,
                    self.lora_rank.valueChanged, self.lora_alpha.valueChanged, self.lora_dropout.valueChanged,
                    self.lora_modules.textChanged, self.backend.changed, self.parallax.changed,
                    *[w.valueChanged for w in self.weights.values()]):
            sig.connect(self.changed)
        self.gpu_count.valueChanged.connect(self._batch_changed)
        self.batch.valueChanged.connect(self._batch_changed)
        self.browse_config.clicked.connect(self._browse_config)
        self.browse_data.clicked.connect(self._browse_data)
        self.copy_cli.clicked.connect(self.copy_command)
        self.launch_button.clicked.connect(self.request_launch)
        self._start_changed()
        self._batch_changed()

    @staticmethod
    def _with(main: QWidget, button: QPushButton) -> QWidget:
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(main, 1)
        button.setFixedWidth(28)
        h.addWidget(button)
        return w

    # ------------------------------------------------------------------ choices
    def set_workspace(self, root: Path) -> None:
        self.workspace = Path(root)
        self._loading = True
        self.config.clear()
        for path in sorted(CONFIG_DIR.glob("*.yaml")):
            self.config.addItem(path.stem, path.stem)
        for path in sorted((self.workspace / "configs").glob("*.yaml")):
            self.config.addItem(f"workspace · {path.name}", str(path))
        self._loading = False
        self.config.setCurrentIndex(max(self.config.findData("small"), 0))
        self._config_changed()

    def data_choices(self, stage: str) -> list[tuple[str, str]]:
        """(label, path) of the datasets on offer: the Curate export's split for ``stage`` first."""
        if self.workspace is None:
            return []
        curated = self.workspace / "curated"
        first = self.latest_export.get(stage, curated / (SFT_FILE if stage == "sft" else PRETRAIN_FILE))
        if not first.is_file():
            first = curated / (SFT_FILE if stage == "sft" else PRETRAIN_FILE)
        out = [(f"Curate export · {stage} split ({first.name})", str(first))] if first.is_file() else []
        for folder in (curated, self.workspace / "datasets"):
            for p in sorted(folder.glob("*")) if folder.is_dir() else []:
                if p.suffix in DATASET_SUFFIXES and p.is_file() and str(p) not in [v for _, v in out]:
                    out.append((f"{folder.name}/{p.name}", str(p)))
        return out

    def set_latest_export(self, paths: dict[str, str | Path]) -> None:
        """The Curate page has just exported these splits: offer them first, and choose the stage's one."""
        self.latest_export = {k: Path(v) for k, v in paths.items()}
        self._fill_data(follow=True)

    def refresh_data(self) -> None:
        """Offer datasets written since the form was filled (an export from a terminal, say)."""
        if self.workspace is not None:
            self._fill_data()

    def _fill_data(self, keep: str | None = None, follow: bool = False) -> None:
        """Offer the stage's datasets; a curated split (or nothing) follows the stage, any other choice stays."""
        current = keep if keep is not None else self.data.currentText()
        follow = follow or (keep is None and (not current or Path(current).name in (PRETRAIN_FILE, SFT_FILE)))
        choices = self.data_choices(self.stage.currentText())
        self.data.blockSignals(True)
        self.data.clear()
        for label, path in choices:
            self.data.addItem(path)
            self.data.setItemData(self.data.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        if follow and choices:
            self.data.setCurrentIndex(0)
        else:
            self.data.setEditText(current)
        self.data.lineEdit().setCursorPosition(len(self.data.currentText()))  # the file name, not the root, shows
        self.data.blockSignals(False)
        self.changed()

    def set_checkpoints(self, items: list[tuple[str, str]]) -> None:
        """Checkpoints of the runs list: (label, path)."""
        text = self.checkpoint.currentText()
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        for label, path in items:
            self.checkpoint.addItem(path)
            self.checkpoint.setItemData(self.checkpoint.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        self.checkpoint.setEditText(text)
        self.checkpoint.blockSignals(False)

    # ------------------------------------------------------------------ reactions
    def config_path(self) -> Path:
        return JobSpec(stage="pretrain", config=self.config.currentData() or "", data="-").config_path()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj in self._wrapped and event.type() == QEvent.Type.Resize:
            self._fit_wrapped()
        return super().eventFilter(obj, event)

    def _fit_wrapped(self) -> None:
        """Give each wrapped help text the height of all its lines at its width: the tab widget does not
        pass height-for-width on, so on a short screen they were squeezed to their middle lines
        (the scroll area around the form scrolls instead)."""
        for label in self._wrapped:
            need = label.heightForWidth(label.width()) if label.width() > 0 else -1
            if need > 0 and need != label.minimumHeight():
                label.setMinimumHeight(need)

    def _config_changed(self) -> None:
        if self._loading or self.config.currentIndex() < 0:
            return
        try:
            self._cfg = load_config(self.config_path()).to_dict()
        except StickGenError as exc:
            self._cfg = {}
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self._loading = True
        t, lo, lw = self._cfg["training"], self._cfg["lora"], self._cfg["loss_weights"]
        self.stage.setCurrentText(t["stage"])
        self.epochs.setValue(t["epochs"])
        self.batch.setValue(t["batch_size"])
        self.lr.setValue(t["learning_rate"])
        self.lora.setChecked(bool(lo["enabled"]))
        self.lora_rank.setValue(lo["rank"])
        self.lora_alpha.setValue(lo["alpha"])
        self.lora_dropout.setValue(lo["dropout"])
        self.lora_modules.setText(", ".join(lo["target_modules"]))
        for name, box in self.weights.items():
            box.setValue(lw[name])
        self.parallax.set_config(self._cfg)
        self._loading = False
        self._fill_data()

    def _stage_changed(self) -> None:
        if not self._loading:
            self._fill_data()

    def _start_changed(self) -> None:
        mode = self.start_mode.currentData()
        self.checkpoint.setEnabled(mode != "scratch")
        self.start_help.setText(START_HELP[mode])
        self._fit_wrapped()
        self.changed()

    def _batch_changed(self, *_: object) -> None:
        """Say what one optimizer step sees when the batch is split over GPUs (batch size is per GPU)."""
        gpus, batch = self.gpu_count.value(), self.batch.value()
        accum = int(self._cfg.get("training", {}).get("grad_accum_steps", 1) or 1)
        self.batch.setSuffix(" per GPU" if gpus > 1 else "")
        self.batch_note.setVisible(gpus > 1)
        self.batch_note.setText(f"{gpus} GPUs × {batch} × {accum} accumulation = {gpus * batch * accum} clips "
                                "per optimizer step (torchrun)")

    def changed(self, *_: object) -> None:
        if not self._loading:
            self._check_timer.start()

    def _browse_config(self) -> None:
        path = QFileDialog.getOpenFileName(self, "Training config", str(self.workspace or ""), "YAML (*.yaml *.yml)")[0]
        if path:
            self.config.addItem(Path(path).name, path)
            self.config.setCurrentIndex(self.config.count() - 1)

    def _browse_data(self) -> None:
        path = QFileDialog.getOpenFileName(self, "Training data", str(self.workspace or ""), "Datasets (*.pt *.pth *.arrow)")[0]
        if path:
            self.data.setEditText(path)

    # ------------------------------------------------------------------ the spec
    def spec(self) -> JobSpec:
        """The JobSpec the form describes; only what differs from the config becomes an override."""
        t, lo, lw = self._cfg.get("training", {}), self._cfg.get("lora", {}), self._cfg.get("loss_weights", {})
        mode, ckpt = self.start_mode.currentData(), self.checkpoint.currentText().strip() or None
        modules = [m.strip() for m in self.lora_modules.text().split(",") if m.strip()]
        lora_now = {"enabled": self.lora.isChecked(), "rank": self.lora_rank.value(), "alpha": self.lora_alpha.value(),
                    "dropout": round(self.lora_dropout.value(), 6), "target_modules": modules}
        lora = None
        if any(lora_now[k] != lo.get(k) for k in lora_now):
            lora = LoraSpec(**lora_now) if lora_now["enabled"] else LoraSpec(enabled=False)

        def changed(value, key):
            return None if value == t.get(key) else value

        return JobSpec(stage=self.stage.currentText(), config=self.config.currentData() or "",
                       data=self.data.currentText().strip(), run_name=self.run_name.text().strip() or None,
                       resume_from=ckpt if mode == "resume" else None, init_from=ckpt if mode == "init" else None,
                       lora=lora, loss_weights={k: round(b.value(), 6) for k, b in self.weights.items()
                                                if abs(b.value() - lw.get(k, b.value())) > 1e-9},
                       epochs=changed(self.epochs.value(), "epochs"), batch_size=changed(self.batch.value(), "batch_size"),
                       learning_rate=None if abs(self.lr.value() - t.get("learning_rate", 0)) < 1e-12 else self.lr.value(),
                       gpu_count=self.gpu_count.value(), overrides=self.parallax.merged(self._overrides),
                       backend=self.backend.backend,
                       backend_settings=self.backend.settings())

    def set_spec(self, spec: JobSpec) -> None:
        """Fill the form from a spec (e.g. "Start SFT from best checkpoint")."""
        index = self.config.findData(spec.config)
        if index < 0:
            self.config.addItem(Path(spec.config).name, spec.config)
            index = self.config.count() - 1
        self.config.setCurrentIndex(index)
        self._config_changed()
        self._loading = True
        self.stage.setCurrentText(spec.stage)
        self._loading = False
        self._fill_data(keep=spec.data)
        self._loading = True
        mode = "resume" if spec.resume_from else "init" if spec.init_from else "scratch"
        self.start_mode.setCurrentIndex(self.start_mode.findData(mode))
        self.checkpoint.setEditText(spec.resume_from or spec.init_from or "")
        self.checkpoint.lineEdit().setCursorPosition(len(self.checkpoint.currentText()))
        for box, value in ((self.epochs, spec.epochs), (self.batch, spec.batch_size), (self.lr, spec.learning_rate)):
            if value is not None:
                box.setValue(value)
        self.run_name.setText(spec.run_name or "")
        self.gpu_count.setValue(spec.gpu_count)
        if spec.lora is not None:
            self.lora.setChecked(spec.lora.enabled)
            for box, value in ((self.lora_rank, spec.lora.rank), (self.lora_alpha, spec.lora.alpha),
                               (self.lora_dropout, spec.lora.dropout)):
                if value is not None:
                    box.setValue(value)
            if spec.lora.target_modules:
                self.lora_modules.setText(", ".join(spec.lora.target_modules))
        for name, value in spec.loss_weights.items():
            self.weights[name].setValue(value)
        self._overrides = self.parallax.set_overrides(spec.overrides)
        self.backend.set_settings(spec.backend, spec.backend_settings)
        self._loading = False
        self._start_changed()
        self.check()

    def check(self) -> JobSpec | None:
        """Preflight the form's spec: the core's message inline (Launch disabled), else the preview and CLI line."""
        self._check_timer.stop()
        images = self.parallax.check(self.data.currentText().strip(), remote=self.backend.backend == "runpod")
        try:
            spec = preflight(self.spec())
            if images:  # the renders do not cover the data: training would refuse at its start
                raise StickGenError(images)
            self.preview.show_config(spec.config_path(), spec.resolved_config())
        except StickGenError as exc:
            # nothing chosen yet is a step still to take, not a mistake: said in plain grey words
            unchosen = not self.data.currentText().strip()
            self.problem.setText("Choose the data to train on (Data, above) to enable Launch." if unchosen
                                 else str(exc))
            self.problem.setStyleSheet(f"QLabel#formProblem {{ color: {'#5f6368' if unchosen else '#b00020'}; }}")
            self.problem.show()
            self.preview.show_problem(str(exc))
            self.launch_button.setEnabled(False)
            self.copy_cli.setEnabled(False)
            self.cli.clear()
            return None
        self.problem.setText("")
        self.problem.hide()
        self.launch_button.setEnabled(True)
        self.copy_cli.setEnabled(True)
        try:
            self.cli.setText(launch_command(spec, self.workspace or "."))
        except StickGenError as exc:
            self.cli.setText(f"(no exact CLI line: {exc})")
        return spec

    def copy_command(self) -> str:
        spec = self.check()
        text = self.cli.text() if spec is not None else ""
        if text and not text.startswith("("):
            QGuiApplication.clipboard().setText(text)
        return text

    def request_launch(self) -> None:
        spec = self.check()
        if spec is not None:
            self.launch_requested.emit(spec)

    def shutdown(self) -> None:
        self._check_timer.stop()
        self.backend.shutdown()
