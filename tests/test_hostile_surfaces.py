"""Hostile inputs on the newer surfaces: config includes, run folders (`stickgen jobs`), the studio's
workspace and the run agent's routes. Same promise as tests/test_hostile_inputs.py: each CLI case in its
own process under the 3 GiB address-space cap and a time limit, ending in one ``error:`` line (exit 2), a
clean refusal or a correct result. Their counts join HOSTILE_REPORT (``surfaces`` splits them by surface).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stickgen_core.jobs.process import ProcessRef
from tests.hostile_cases import MEMORY_CAP, run_cli, tiny_config, write, write_report
from tests.jobs.test_damaged_runs import DAMAGED, dead_ref, make_run

RESULTS: dict[str, str] = {}
CASE_SECONDS = 120  # the time limit of one case (a hang guard; each takes a few seconds)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _extends(r: Path, target: str) -> Path:
    return write(r / "shared.yaml", f"extends: {target}\ntraining:\n  epochs: 1\n")


def _no_newline_log(path: Path, size: int = 100 << 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)  # sparse: 100 MB without a newline
    return path


def _eval(suites: str | Path) -> list[str]:
    return ["eval-adversarial", "--checkpoint", "none.pth", "--output_dir", "out", "--suites-file", str(suites)]


# name: (build(root) -> argv, substrings the error line must hold)
ERRORS = {
    "config: extends /dev/zero": (lambda r: ["config", "show", _extends(r, "/dev/zero")], ["/dev/zero", "device"]),
    "config: extends /dev/urandom": (lambda r: ["config", "show", _extends(r, "/dev/urandom")], ["/dev/urandom", "device"]),
    "config: extends /proc/self/environ": (lambda r: ["config", "show", _extends(r, "/proc/self/environ")],
                                           ["environ", "/proc or /sys"]),
    "config: extends a FIFO": (lambda r: _fifo(r / "pipe.yaml") and ["config", "show", _extends(r, "pipe.yaml")],
                               ["pipe.yaml", "FIFO"]),
    "config: extends a folder": (lambda r: (r / "dir.yaml").mkdir() or ["config", "show", _extends(r, "dir.yaml")],
                                 ["dir.yaml", "is a folder"]),
    "config: YAML nested 100,000 deep": (lambda r: ["config", "show", write(r / "deep.yaml", "a: " + "[" * 100_000)],
                                         ["deep.yaml", "YAML"]),
    "train: extends /dev/zero": (lambda r: ["train", "--config", _extends(r, "/dev/zero"), "--data_path", "x.pt",
                                            "--run-dir", "out/run"], ["/dev/zero", "device"]),
    "train: config is /dev/urandom": (lambda r: ["train", "--config", "/dev/urandom", "--data_path", "x.pt",
                                                 "--run-dir", "out/run"], ["/dev/urandom", "device"]),
    "eval: --suites-file /dev/zero": (lambda r: _eval("/dev/zero"), ["/dev/zero", "device"]),
    "eval: --suites-file a FIFO": (lambda r: _eval(_fifo(r / "suites.yaml")), ["suites.yaml", "FIFO"]),
    "validate: dataset is a FIFO": (lambda r: ["validate", _fifo(r / "d.pt")], ["d.pt", "FIFO"]),
    "generate-data: --num-samples -5": (lambda r: ["generate-data", "--num-samples", "-5", "--output", "out/g.pt"],
                                        ["--num-samples", "at least 1", "-5"]),
    "generate-data: --num-samples 0": (lambda r: ["generate-data", "--num-samples", "0", "--output", "out/g.pt"],
                                       ["--num-samples", "at least 1"]),
    "jobs: stop a run whose job is a list": (lambda r: make_run(r / "ws", "bad", run={"job": [1, 2]}) and
                                             ["jobs", "stop", "bad", "--workspace", "ws"],
                                             ["run bad is damaged", "job: expected a mapping"]),
    "jobs: stop a run with pid 'abc'": (lambda r: make_run(r / "ws", "bad", status={"state": "running"},
                                                           job_state={"supervisor": {"pid": "abc", "create_time": 1}})
                                        and ["jobs", "stop", "bad", "--workspace", "ws"],
                                        ["run bad is damaged", "supervisor"]),
}

# name: (build(root) -> argv, text stdout must hold)
ACCEPTED = {
    **{f"jobs: list with {name}": (lambda r, kw=kw: make_run(r / "ws", "good", status={"state": "completed"})
                                   and make_run(r / "ws", "bad", **kw) and ["jobs", "list", "--workspace", "ws"],
                                   needle)
       for name, (kw, needle) in DAMAGED.items()},
    "jobs: logs -n 5 of a 100 MB log without newlines": (
        lambda r: make_run(r / "ws", "big", status={"state": "completed"}) and
        _no_newline_log(r / "ws" / "runs" / "big" / "train.log") and ["jobs", "logs", "big", "-n", "5",
                                                                        "--workspace", "ws"], "[...]"),
    "jobs: list settles a run killed with kill -9": (
        lambda r: make_run(r / "ws", "killed", status={"state": "running", "phase": "train"},
                           job_state={"supervisor": dead_ref(), "trainer": dead_ref()}) and
        ["jobs", "list", "--workspace", "ws"], "died (killed?)"),
    "config: an ordinary extends chain": (
        lambda r: ["config", "show", write(r / "child.yaml", f"extends: {tiny_config(r).name}\n")], "d_model"),
}


def _classify(name: str, code: int, stderr: str, expect_code: int) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if code < 0:
        kind = "signal"
    elif "Traceback" in stderr:
        kind = "traceback"
    elif code == 0 and expect_code != 0:
        kind = "silent acceptance"
    elif code == expect_code == 0:
        kind = "accepted"
    elif expect_code == 0:
        kind = "wrongly refused"  # e.g. one damaged run folder failing the whole listing
    elif code == 2 and len(errors) == 1:
        kind = "clear error"
    else:
        kind = "unclear error"
    RESULTS[name] = kind
    return kind


def _run(name: str, argv: list, cwd: Path):
    try:
        return run_cli([str(a) for a in argv], cwd, timeout=CASE_SECONDS)
    except subprocess.TimeoutExpired:
        RESULTS[name] = "too slow"
        pytest.fail(f"{name}: still running after {CASE_SECONDS} s")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    write_report(RESULTS)


def _case(name: str, table: dict, expect_code: int, tmp_path: Path):
    """Build case ``name`` of ``table``, run it, and check it ended as expected; (output, what to find)."""
    build, wanted = table[name]
    out = _run(name, build(tmp_path), tmp_path)
    kind = _classify(name, out.code, out.stderr, expect_code)
    assert kind == ("accepted" if expect_code == 0 else "clear error"), \
        f"{kind}: exit {out.code}; stderr: {out.stderr[-2000:]}"
    return out, wanted


@pytest.mark.parametrize("name", list(ERRORS))
def test_hostile_surface_gives_one_clear_line(name, tmp_path):
    out, needles = _case(name, ERRORS, 2, tmp_path)
    line = next(line for line in out.stderr.splitlines() if line.startswith("error:"))
    assert len(line) < 700
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line}"


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_hostile_surface_is_handled_in_the_result(name, tmp_path):
    out, text = _case(name, ACCEPTED, 0, tmp_path)
    assert text in out.stdout, out.stdout[-2000:]
    if name.startswith("jobs: list with"):
        assert any(line.startswith("bad ") and " damaged " in line for line in out.stdout.splitlines())


def test_jobs_stop_never_signals_a_process_the_run_does_not_own(tmp_path):
    name = "jobs: stop a run whose job_state names an unrelated live process"
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        make_run(tmp_path / "ws", "tampered", status={"state": "running", "phase": "train"},
                 job_state={"attempt": 1, "supervisor": ProcessRef.of(stranger.pid).to_dict()})
        out = _run(name, ["jobs", "stop", "tampered", "--workspace", "ws"], tmp_path)
        kind = _classify(name, out.code, out.stderr, 2)
        assert kind == "clear error" and f"process {stranger.pid} (sleep) is not this run's" in out.stderr, out.stderr
        time.sleep(0.3)
        assert stranger.poll() is None  # still alive: nothing was sent
    finally:
        stranger.kill()
        stranger.wait()


# --------------------------------------------------------------------------- the studio's workspace
STUDIO = """
import os, resource, runpy, sys
cap = int(os.environ["HOSTILE_MEMORY_CAP"])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.argv = ["stickgen-studio"] + sys.argv[1:]
runpy.run_module("stickgen_studio", run_name="__main__")
"""

WORKSPACES = {
    "workspace: workspace.json 200,000 deep": lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
    "workspace: workspace.json is a folder": lambda p: p.mkdir(),
    "workspace: hidden is not a list": lambda p: p.write_text(json.dumps({"external": [], "hidden": "notalist"})),
}


@pytest.mark.parametrize("name", list(WORKSPACES))
def test_the_studio_opens_a_workspace_with_a_bad_manifest(name, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    WORKSPACES[name](ws / "workspace.json")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOSTILE_MEMORY_CAP=str(MEMORY_CAP))
    try:
        p = subprocess.run([sys.executable, "-c", STUDIO, str(ws), "--screenshot", str(tmp_path / "s.png")], env=env,
                           capture_output=True, text=True, timeout=CASE_SECONDS)
    except subprocess.TimeoutExpired:
        RESULTS[name] = "too slow"
        pytest.fail(f"{name}: the studio did not become ready in {CASE_SECONDS} s")
    kind = _classify(name, p.returncode, p.stderr, 0)
    assert kind == "accepted" and (tmp_path / "s.png").is_file(), p.stderr[-2000:]
    assert "set aside as workspace.json.bad-" in p.stderr and len(list(ws.glob("workspace.json.bad-*"))) == 1


# --------------------------------------------------------------------------- the run agent's routes
TOKEN = "hostile-token-0123456789"


@pytest.fixture
def agent(tmp_path):
    from stickgen_core.jobs.agent import serve

    run_dir = make_run(tmp_path / "ws", "pod-run", status={"state": "running", "phase": "train"})
    server = serve(run_dir, 0, token=TOKEN, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", run_dir
    server.shutdown()
    server.server_close()


def _get(url: str, method: str = "GET") -> tuple[int, dict, float]:
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=CASE_SECONDS) as resp:
            return resp.status, json.loads(resp.read()), time.perf_counter() - start
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), time.perf_counter() - start


def _route_kind(name: str, code: int, body: dict, expect: int) -> str:
    one_line = "\n" not in str(body.get("error", ""))
    RESULTS[name] = ("accepted" if code == expect == 200 else "clear error" if code == expect and one_line
                     else "unclear error")
    return RESULTS[name]


def test_agent_routes_on_hostile_requests_and_folders(agent):
    base, run_dir = agent
    _no_newline_log(run_dir / "train.log")
    code, body, seconds = _get(f"{base}/log?lines=1000000000")
    assert _route_kind("agent: /log of a 100 MB log without newlines", code, body, 200) == "accepted"
    assert seconds < 10 and len(body["lines"]) == 1 and len(body["lines"][0]) < 5000
    code, body, _ = _get(f"{base}/metrics?offset=abc")
    assert _route_kind("agent: /metrics?offset=abc", code, body, 400) == "clear error", body
    (run_dir / "status.json").write_text("[" * 100_000 + "]" * 100_000)
    code, body, _ = _get(f"{base}/status")
    assert _route_kind("agent: /status with a 100,000-deep status.json", code, body, 200) == "accepted"
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        (run_dir / "job_state.json").write_text(json.dumps({"supervisor": ProcessRef.of(stranger.pid).to_dict()}))
        code, body, _ = _get(f"{base}/stop", "POST")
        assert _route_kind("agent: /stop naming an unrelated process", code, body, 400) == "clear error", body
        assert "is not this run's" in body["error"]
        time.sleep(0.3)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
