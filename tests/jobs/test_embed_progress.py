"""The embed step's count reaches the runs list: `stickgen embed --progress-file` keeps {done, total, unit}
clips in a small JSON file, the job's supervisor turns it into the run's status (``progress`` beside
``phase: embed``), and the Train page's row reads 'embedding 30 / 50 clips'."""

import json
import sys
import threading
import time

import numpy as np
import pytest

from stickgen_core import embedding
from stickgen_core.cli import main
from stickgen_core.io import save_dataset
from stickgen_core.jobs import pipeline
from stickgen_core.jobs.pipeline import EMBED_PROGRESS, Step, Supervisor
from stickgen_core.progress_file import MAX_BYTES, ProgressFile, read_progress
from stickgen_core.synth import SynthConfig, generate_dataset

from .test_state_transitions import make_run


@pytest.fixture(scope="module")
def raw50(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw") / "clips.pt"
    save_dataset(generate_dataset(50, seed=3, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2)), path)
    return path


class CountingEncoder:
    name, dim, encoded = "fake", 4, 0

    def encode(self, texts, progress=None):
        self.encoded += len(texts)
        return np.tile(np.eye(4, dtype=np.float32)[0], (len(texts), 1))


def test_embed_dataset_counts_clips_chunk_by_chunk(raw50, tmp_path, monkeypatch):
    monkeypatch.setattr(embedding, "PROGRESS_CHUNK", 16)
    calls = []
    info = embedding.embed_dataset(raw50, tmp_path / "out.pt", CountingEncoder(), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(16, 50), (32, 50), (48, 50), (50, 50)] and info["samples"] == 50


def test_a_real_embed_writes_its_count(raw50, tmp_path):
    """The offline all-MiniLM-L6-v2 on 50 clips: the file ends at 50 / 50 clips."""
    out, pf = tmp_path / "emb.pt", tmp_path / "progress.json"
    assert main(["embed", "--input", str(raw50), "--output", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--progress-file", str(pf)]) == 0
    assert read_progress(pf) == {"done": 50, "total": 50, "unit": "clips"}


def test_progress_file_throttles_but_keeps_the_last_count(tmp_path):
    pf = ProgressFile(tmp_path / "p.json", unit="clips", every_s=3600)
    pf.update(1, 10)
    pf.update(5, 10)                       # within every_s: not written
    assert read_progress(pf.path)["done"] == 1
    pf.update(10, 10)                      # the last count always is
    assert read_progress(pf.path) == {"done": 10, "total": 10, "unit": "clips"}


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"done": 3, "total": 2}', '{"done": -1, "total": 2}',
                                  '{"done": true, "total": 2}', '{"done": 1.5, "total": 2}', "not json",
                                  json.dumps({"done": 1, "total": 2, "pad": "x" * MAX_BYTES})])
def test_a_file_that_is_not_a_count_reads_as_none(tmp_path, text):
    (tmp_path / "p.json").write_text(text)
    assert read_progress(tmp_path / "p.json") is None
    assert read_progress(tmp_path / "missing.json") is None


STEP = """
import sys, time
from stickgen_core.progress_file import ProgressFile
pf = ProgressFile(sys.argv[1], unit="clips", every_s=0)
time.sleep(1.0)  # the model loading: a count from an earlier attempt must not show meanwhile
for done in (10, 20, 30, 40, 50):
    pf.update(done, 50)
    time.sleep(0.7)
"""


def test_the_supervisor_puts_the_embed_count_in_the_status(tmp_path, tiny_spec, monkeypatch):
    run = make_run(tmp_path, tiny_spec, "emb")
    (run.root / EMBED_PROGRESS).write_text('{"done": 99, "total": 99, "unit": "clips"}')  # an earlier attempt's

    def plan(r, python=sys.executable):
        r.update_job_state(planned_train_data=str(tmp_path / "embedded.pt"))
        return [Step("embed", [python, "-c", STEP, str(r.root / EMBED_PROGRESS)])]
    monkeypatch.setattr(pipeline, "plan", plan)
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            st = run.raw_status()
            if st.get("phase") == "embed" and st.get("progress") and st["progress"] not in seen:
                seen.append(st["progress"])
            time.sleep(0.05)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        Supervisor(run).execute()
    finally:
        done.set()
        watcher.join()
    assert [p["done"] for p in seen] == [10, 20, 30, 40, 50] and {p["total"] for p in seen} == {50}
    assert run.job_state()["train_data"] == str(tmp_path / "embedded.pt")
    # what the Train page's row reads from such a status
    runs_table = pytest.importorskip("stickgen_studio.train.runs_table")
    assert runs_table.phase_progress({"state": "running", "phase": "embed", "progress": seen[2]}) == \
        ("embedding 30 / 50 clips", 0.6)
