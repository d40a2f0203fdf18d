"""@pytest.mark.shared_data: a test that needs ../shared/data skips on a fresh clone, and fails instead
when STICKGEN_REQUIRE_SHARED_DATA=1 (what .ci/run sets where ../shared/data exists)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import pytest

@pytest.mark.shared_data("bvh", "no/such/file.pt")
def test_needs_a_file_nobody_has():
    pass

def test_plain():
    pass
"""


def run_probe(tmp_path, require):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STICKGEN_REQUIRE_SHARED_DATA", None)
    if require is not None:
        env["STICKGEN_REQUIRE_SHARED_DATA"] = require
    # the repository's conftest as a plugin, on a test file outside the repository
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(tmp_path), "test_probe.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("require", [None, "0"])
def test_a_missing_shared_file_skips_by_default(tmp_path, require):
    out = run_probe(tmp_path, require)
    assert out.returncode == 0 and "1 passed, 1 skipped" in out.stdout, out.stdout + out.stderr
    assert "warning" not in out.stdout  # the marker is registered
    assert "needs " in out.stdout and "../shared/data/no/such/file.pt" in out.stdout  # bvh too where absent


def test_a_missing_shared_file_fails_when_required(tmp_path):
    out = run_probe(tmp_path, "1")
    assert out.returncode == 1 and "1 passed, 1 error" in out.stdout, out.stdout + out.stderr
    assert "../shared/data/no/such/file.pt, missing although STICKGEN_REQUIRE_SHARED_DATA=1" in out.stdout


def test_ci_requires_shared_data_only_where_it_exists():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "if [ -d ../shared/data ]; then\n    export STICKGEN_REQUIRE_SHARED_DATA=1\nfi" in ci
    assert ci.index("STICKGEN_REQUIRE_SHARED_DATA=1") < ci.index("make test")
