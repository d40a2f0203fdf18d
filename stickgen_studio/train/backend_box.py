"""Where a run trains: this machine, or a RunPod GPU pod (GPU types, cloud, volume, image).

The RunPod API key is never shown, asked for or stored here: the box only says whether the
core finds one (``RUNPOD_API_KEY`` or the SDK's config file).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.errors import RunPodError
from stickgen_core.jobs.runpod_backend import DEFAULTS, RunPodBackend, api_key
from stickgen_core.jobs.volume_storage import S3_DATA_CENTRES, s3_keys_source

from ..workers import Task

CLOUD_TYPES = ("SECURE", "COMMUNITY", "ALL")


def api_key_is_set() -> bool:
    try:
        return bool(api_key())
    except RunPodError:
        return False


class BackendBox(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItem("Local (this machine)", "local")
        self.kind.addItem("RunPod GPU pod", "runpod")
        self.nice = QSpinBox()
        self.nice.setRange(0, 19)
        self.nice.setValue(10)
        self.nice.setToolTip("Niceness of the training process: higher leaves more CPU to other work")
        self.local_box = QGroupBox("Local")
        QFormLayout(self.local_box).addRow("Niceness", self.nice)

        self.gpus = QListWidget()
        self.gpus.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.gpus.setToolTip("Tried in this order when one has no free instance; drag to reorder, untick to skip")
        self.gpus.setMaximumHeight(110)
        self.add_gpu = QLineEdit()
        self.add_gpu.setPlaceholderText("another GPU type id, Enter to add")
        self.cloud = QComboBox()
        self.cloud.addItems(CLOUD_TYPES)
        self.volume = QLineEdit()
        self.volume.setPlaceholderText("network volume id (data and checkpoints live there)")
        self.dc = QComboBox()  # the volume's data centre: its S3 API endpoint, and where the pod must run
        self.dc.setEditable(True)
        self.dc.addItems(("",) + S3_DATA_CENTRES)
        self.dc.lineEdit().setPlaceholderText("the volume's data centre, e.g. EU-RO-1")
        self.dc.setToolTip("The network volume's data centre: the job's data is uploaded to the volume through "
                           "https://s3api-<data centre>.runpod.io before the pod starts there")
        self.s3 = QLabel()
        self.s3.setWordWrap(True)
        self.image = QLineEdit(DEFAULTS["image"])
        self.disk = QSpinBox()
        self.disk.setRange(5, 2000)
        self.disk.setValue(int(DEFAULTS["container_disk_gb"]))
        self.disk.setSuffix(" GB")
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.price = QLabel()
        self.estimate = QPushButton("Estimate price")
        self.estimate.setToolTip("Ask RunPod for the hourly price of the first ticked GPU type")
        self.pod_box = QGroupBox("RunPod")
        form = QFormLayout(self.pod_box)
        for label, w in (("GPU types", self.gpus), ("", self.add_gpu), ("Cloud", self.cloud),
                         ("Network volume", self.volume), ("Data centre", self.dc), ("Image", self.image),
                         ("Container disk", self.disk), ("API key", self.key), ("S3 keys", self.s3)):
            form.addRow(label, w)
        form.addRow(self.estimate, self.price)
        lay = QVBoxLayout(self)
        lay.addWidget(self.kind)
        lay.addWidget(self.local_box)
        lay.addWidget(self.pod_box)
        lay.addStretch(1)
        self.set_gpu_types(DEFAULTS["gpu_types"])
        self._task: Task | None = None
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.add_gpu.returnPressed.connect(self._add_gpu)
        for sig in (self.nice.valueChanged, self.cloud.currentIndexChanged, self.volume.textChanged,
                    self.dc.currentTextChanged,
                    self.image.textChanged, self.disk.valueChanged, self.gpus.itemChanged,
                    self.gpus.model().rowsMoved):
            sig.connect(self.changed)
        self.estimate.clicked.connect(self.estimate_price)
        self._kind_changed()

    # ------------------------------------------------------------------ values
    @property
    def backend(self) -> str:
        return self.kind.currentData()

    def gpu_types(self) -> list[str]:
        return [self.gpus.item(i).text() for i in range(self.gpus.count())
                if self.gpus.item(i).checkState() == Qt.CheckState.Checked]

    def set_gpu_types(self, names: list[str], ticked: list[str] | None = None) -> None:
        self.gpus.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if ticked is None or name in ticked else Qt.CheckState.Unchecked)
            self.gpus.addItem(item)

    def settings(self) -> dict[str, Any]:
        """The job's ``backend_settings`` as the form says."""
        if self.backend == "local":
            return {"nice": self.nice.value()}
        out: dict[str, Any] = {"image": self.image.text().strip(), "cloud_type": self.cloud.currentText(),
                               "container_disk_gb": self.disk.value(), "gpu_types": self.gpu_types()}
        if self.volume.text().strip():
            out["network_volume_id"] = self.volume.text().strip()
        if self.dc.currentText().strip():
            out["data_center_id"] = self.dc.currentText().strip().upper()
        return out

    def set_settings(self, backend: str, settings: dict[str, Any]) -> None:
        self.kind.setCurrentIndex(self.kind.findData(backend))
        if backend == "local":
            self.nice.setValue(int(settings.get("nice", 10)))
            return
        self.image.setText(str(settings.get("image", DEFAULTS["image"])))
        self.cloud.setCurrentText(str(settings.get("cloud_type", DEFAULTS["cloud_type"])))
        self.disk.setValue(int(settings.get("container_disk_gb", DEFAULTS["container_disk_gb"])))
        self.volume.setText(str(settings.get("network_volume_id") or ""))
        self.dc.setCurrentText(str(settings.get("data_center_id") or ""))
        gpus = list(settings.get("gpu_types") or DEFAULTS["gpu_types"])
        self.set_gpu_types(gpus + [g for g in DEFAULTS["gpu_types"] if g not in gpus], gpus)

    # ------------------------------------------------------------------ behaviour
    def _kind_changed(self) -> None:
        pod = self.backend == "runpod"
        self.pod_box.setVisible(pod)
        self.local_box.setVisible(not pod)
        if pod:
            self.refresh_key()
        self.changed.emit()

    def refresh_key(self) -> None:
        self.key.setText("set (from RUNPOD_API_KEY or ~/.runpod/config.toml)" if api_key_is_set() else
                         "<b>not set</b>: set RUNPOD_API_KEY or run <code>runpod config</code>, then reopen this tab")
        source = s3_keys_source()  # where from, never the keys themselves
        self.s3.setText(f"set (from {source})" if source else
                        "<b>not set</b>: RUNPOD_S3_ACCESS_KEY / RUNPOD_S3_SECRET_KEY (RunPod: Settings → S3 API Keys)")

    def _add_gpu(self) -> None:
        name = self.add_gpu.text().strip()
        if name and name not in [self.gpus.item(i).text() for i in range(self.gpus.count())]:
            self.set_gpu_types([name] + [self.gpus.item(i).text() for i in range(self.gpus.count())],
                               [name] + self.gpu_types())
            self.changed.emit()
        self.add_gpu.clear()

    def estimate_price(self) -> None:
        gpus = self.gpu_types()
        if not gpus or (self._task is not None and self._task.is_running()):
            return
        self.price.setText("asking RunPod…")
        backend = RunPodBackend({k: v for k, v in self.settings().items() if k in DEFAULTS})
        self._task = Task(backend.price_per_hour, gpus[0], name="runpod-price")
        self._task.finished.connect(lambda p: self.price.setText(
            f"~${p:.2f}/h for {gpus[0]}" if p else f"RunPod gives no price for {gpus[0]}"))
        self._task.failed.connect(self.price.setText)
        self._task.start()

    def shutdown(self) -> None:
        if self._task is not None:
            self._task.wait(30_000)
