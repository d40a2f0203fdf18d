"""Experiment-tracking interop: TensorBoard event files (and W&B offline / MLflow SQLite-store runs when
those libraries are installed) hold exactly the numbers of metrics.jsonl; report_to is validated."""

import json
import logging
import sys

import pytest

from stickgen_core.config import load_config
from stickgen_core.errors import ConfigError
from tests.test_train import cfg_with, data_file, run  # noqa: F401  (data_file is a fixture)


def metric_rows(folder) -> list[dict]:
    return [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]


def expected_scalars(rows) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl as (step, value) series per '<type>/<key>' tag."""
    out: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k not in ("type", "epoch", "step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(f"{r['type']}/{k}", []).append((r["step"], float(v)))
    return out


def test_training_writes_tensorboard_events_equal_to_metrics_jsonl(tmp_path, data_file):  # noqa: F811
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(cfg_with(training={"epochs": 2}), data_file, tmp_path / "r")
    want = expected_scalars(metric_rows(tmp_path / "r"))
    assert {"step/train_total", "step/lr", "epoch/train_loss", "epoch/val_total"} <= set(want)
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert set(acc.Tags()["scalars"]) == set(want)
    for tag, series in want.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in series], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in series], rel=1e-6), tag  # float32 in events


def test_report_to_an_empty_list_writes_no_tensorboard_folder(tmp_path, data_file):  # noqa: F811
    run(cfg_with(training={"epochs": 1, "report_to": []}), data_file, tmp_path / "r")
    assert metric_rows(tmp_path / "r") and not (tmp_path / "r" / "tensorboard").exists()


def test_without_tensorboard_installed_training_logs_one_line_and_goes_on(tmp_path, data_file, caplog,  # noqa: F811
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # find_spec raises for a None module: patch it instead
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else real(n, *a))
    with caplog.at_level(logging.INFO, logger="stickgen_core.train.reporters"):
        run(cfg_with(training={"epochs": 1}), data_file, tmp_path / "r")
    lines = [r.getMessage() for r in caplog.records if r.name == "stickgen_core.train.reporters"]
    assert lines == ["report_to tensorboard: off (tensorboard is not installed; pip install tensorboard)"]
    assert metric_rows(tmp_path / "r") and not (tmp_path / "r" / "tensorboard").exists()


@pytest.mark.parametrize("value, needle", [
    (["tensorboard", "neptune"], "training.report_to[1]: expected one of tensorboard, wandb, mlflow, got 'neptune'"),
    ("wandb", "training.report_to: expected a list"),
])
def test_report_to_is_validated_naming_the_key(value, needle):
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"training": {"report_to": value}})
    assert needle in str(err.value)


def wandb_history(path) -> list[dict]:
    """The history rows of an offline run's .wandb file (a LevelDB-style log of protobuf records: a 7-byte
    header, 32 KiB blocks, chunks of crc32 / length / kind; wandb 0.31 ships no Python reader)."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, pos, block, buf, rows = path.read_bytes(), 7, 32768, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if length == 0 and kind == 0:  # the padded end of a block
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        buf = chunk if kind in (1, 2) else buf + chunk  # full / first start a record; middle / last extend it
        if kind in (1, 4):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(buf)
            if rec.WhichOneof("record_type") == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item})
    return rows


def test_wandb_offline_run_holds_the_metrics(tmp_path, data_file, monkeypatch):  # noqa: F811
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run(cfg_with(training={"epochs": 1, "report_to": ["wandb"]}), data_file, tmp_path / "r")
    offline = list((tmp_path / "r" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(offline) == 1 and offline[0].stat().st_size > 0
    logged: dict[str, list] = {}
    for items in wandb_history(offline[0]):
        for k, v in items.items():
            if "/" in k:
                logged.setdefault(k, []).append((items["_step"], v))
    want = expected_scalars(metric_rows(tmp_path / "r"))
    assert set(logged) == set(want)
    for tag, series in want.items():
        assert [s for s, _ in logged[tag]] == [s for s, _ in series], tag
        assert [v for _, v in logged[tag]] == pytest.approx([v for _, v in series]), tag


def test_mlflow_sqlite_store_run_holds_the_metrics_and_config(tmp_path, data_file, monkeypatch):  # noqa: F811
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run(cfg_with(training={"epochs": 1, "report_to": ["mlflow"]}), data_file, tmp_path / "r")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'r' / 'mlflow.db'}")
    [found] = client.search_runs([client.get_experiment_by_name("stickgen").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == "r"
    assert found.data.params["training.epochs"] == "1"
    for tag, series in expected_scalars(metric_rows(tmp_path / "r")).items():
        got = sorted((m.step, m.value) for m in client.get_metric_history(found.info.run_id, tag.replace("/", ".")))
        assert [s for s, _ in got] == [s for s, _ in sorted(series)], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in sorted(series)]), tag
