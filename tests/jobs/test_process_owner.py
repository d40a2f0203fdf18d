"""A tampered job_state.json may name any process of the user: only a stickgen program on the run's
folder is the run's own. A command line that merely holds the word "stickgen" (a workspace called
``stickgen-ws``, a backup file) next to a path inside the run is someone else's (``tail -f``, an editor)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs.process import ProcessRef

SLEEP = [sys.executable, "-c", "import time; time.sleep(600)"]


def _ref(argv: list[str]) -> tuple[subprocess.Popen, ProcessRef]:
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10  # until exec has replaced the forked copy's command line
    while psutil.Process(proc.pid).cmdline() != argv and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc, ProcessRef.of(proc.pid)


@pytest.fixture
def root(tmp_path) -> Path:
    run = tmp_path / "stickgen-ws" / "runs" / "r1"  # a workspace whose name holds "stickgen"
    run.mkdir(parents=True)
    (run / "train.log").write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "stickgen").write_text("import time\ntime.sleep(600)\n")  # a console script's name
    return run


@pytest.mark.parametrize("args,owned", [
    (["{root}/train.log"], False),                             # tail -f on the run's log, in a stickgen-ws
    (["my_stickgen_backup.tar", "{root}"], False),             # "stickgen" only inside another word
    (["stickgen_core.jobs.pipeline", "{root}"], True),         # the pipeline as LocalBackend starts it
    (["-m", "stickgen_core.train", "--run-dir", "{root}"], True),
])
def test_only_a_stickgen_program_on_the_run_folder_is_the_runs_own(root, args, owned):
    proc, ref = _ref([*SLEEP, *(a.format(root=root) for a in args)])
    try:
        assert ref.owned_by(root) is owned
    finally:
        proc.kill()
        proc.wait()


def test_the_stickgen_console_script_on_the_run_folder_is_the_runs_own(root, tmp_path):
    proc, ref = _ref([sys.executable, str(tmp_path / "bin" / "stickgen"), "jobs", str(root)])
    try:
        assert ref.owned_by(root)
    finally:
        proc.kill()
        proc.wait()


def test_a_tail_on_the_runs_log_is_never_signalled(root):
    proc, ref = _ref([*SLEEP, str(root / "train.log")])
    try:
        with pytest.raises(JobError, match="is not this run's"):
            ref.signal(signal.SIGTERM, root)
        time.sleep(0.2)
        assert proc.poll() is None  # alive: nothing was sent
    finally:
        proc.kill()
        proc.wait()
