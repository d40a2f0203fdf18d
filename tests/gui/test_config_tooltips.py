"""The studio's tooltips and choices for config settings are the fields' metadata (config_fields)."""

from __future__ import annotations

import dataclasses

from stickgen_core.config import LoraConfig, LossWeights, TrainingConfig
from stickgen_core.config_fields import choices_of, describe, help_of, range_of
from stickgen_core.critic_config import SafetyCriticConfig
from stickgen_core.jobs import JobSpec


def test_critic_editor_tooltips_choices_and_ranges_come_from_the_config(qtbot):
    from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

    from stickgen_studio.evaluate.critic_config import CriticConfigEditor

    editor = CriticConfigEditor()
    qtbot.addWidget(editor)
    assert set(editor.controls) == {f.name for f in dataclasses.fields(SafetyCriticConfig)}
    for name, w in editor.controls.items():
        assert w.toolTip().startswith(describe(SafetyCriticConfig, name)), name
        assert help_of(SafetyCriticConfig, name) in w.toolTip()
    assert editor.controls["max_velocity"].toolTip() == ("m/s: pelvis speed above this is flagged. A value >= 0. "
                                                         "(safety_critic.max_velocity)")
    ground = editor.controls["ground"]
    assert isinstance(ground, QComboBox)
    assert tuple(ground.itemText(i) for i in range(ground.count())) == choices_of(SafetyCriticConfig, "ground")
    window = editor.controls["repetition_window"]
    assert isinstance(window, QSpinBox) and window.minimum() == range_of(SafetyCriticConfig, "repetition_window").lo
    reject = editor.controls["rejection_severity_threshold"]
    assert isinstance(reject, QDoubleSpinBox) and (reject.minimum(), reject.maximum()) == (0.0, 1.0)
    # a value the spin box allows but the config does not (the open end) is the config's message, shown inline
    reject.setValue(0.0)
    assert editor.config() is None
    assert editor.error.text().startswith("safety_critic.rejection_severity_threshold: expected a value in (0, 1]")


def test_launch_form_tooltips_are_the_keys_help(qtbot):
    from stickgen_studio.train.launch_form import LaunchForm

    form = LaunchForm()
    qtbot.addWidget(form)
    expected = {form.stage: (TrainingConfig, "stage"), form.epochs: (TrainingConfig, "epochs"),
                form.batch: (TrainingConfig, "batch_size"), form.lr: (TrainingConfig, "learning_rate"),
                form.gpu_count: (JobSpec, "gpu_count"), form.run_name: (JobSpec, "run_name"),
                form.lora: (LoraConfig, "enabled"), form.lora_rank: (LoraConfig, "rank"),
                form.lora_alpha: (LoraConfig, "alpha"), form.lora_dropout: (LoraConfig, "dropout")}
    for w, (cls, name) in expected.items():
        assert w.toolTip() == describe(cls, name), name
    assert form.epochs.toolTip() == "Passes over the training data. A value >= 1. (training.epochs)"
    assert form.lora_modules.toolTip() == describe(LoraConfig, "target_modules") + " Comma-separated."
    assert list(form.weights) == [f.name for f in dataclasses.fields(LossWeights)]  # no ClassVar among them
    for name, box in form.weights.items():
        assert box.toolTip() == describe(LossWeights, name)
    form.shutdown()


def test_curate_threshold_tooltips_are_the_fields_help(qtbot):
    from stickgen_core.curation import CurationConfig
    from stickgen_studio.curate.controls import Knob, NumberControl

    control = NumberControl(Knob("min_quality_sft", "Min quality (SFT)", 0, 1), 0.8)
    qtbot.addWidget(control)
    assert help_of(CurationConfig, "min_quality_sft") in control.slider.toolTip()
    assert "(data_curation.min_quality_sft)" in control.spin.toolTip()
