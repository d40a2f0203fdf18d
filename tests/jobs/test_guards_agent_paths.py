"""The run agent's routes that name files stay in their folders: uploads in the data folder
(not ``data2``, not through a symlink out), downloads in the run's checkpoints folder (not a
checkpoint that is a symlink to a file elsewhere). Raw HTTP, so the client's own checks do not
stand in for the server's."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from stickgen_core.jobs.agent import serve
from stickgen_core.jobs.run import write_json

TOKEN = "guard-token-7d1e"
SECRET = b"outside the run: never served\n" * 10


@pytest.fixture
def agent(tmp_path):
    ws = tmp_path / "ws"
    root = ws / "runs" / "r1"
    (root / "checkpoints").mkdir(parents=True)
    (ws / "data").mkdir()
    (ws / "data2").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write_json(root / "status.json", {"state": "running"})
    (root / "checkpoints" / "model_checkpoint_best.pth").write_bytes(b"weights")
    (tmp_path / "elsewhere" / "secret.pth").write_bytes(SECRET)
    os.symlink(tmp_path / "elsewhere", ws / "data" / "link_out")
    os.symlink(tmp_path / "elsewhere" / "secret.pth", root / "checkpoints" / "model_checkpoint_latest.pth")
    server = serve(root, 0, token=TOKEN, data_dir=ws / "data", host="127.0.0.1")
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ws, tmp_path / "elsewhere"
    server.shutdown()
    server.server_close()


def _call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None:
        headers.update({"X-SHA256": hashlib.sha256(body).hexdigest(), "Content-Length": str(len(body))})
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _upload(base: str, rel: str, body: bytes = b"clip data") -> tuple[int, bytes]:
    return _call(f"{base}/upload?path={urllib.request.quote(rel)}", "PUT", body)


@pytest.mark.parametrize("rel", ["../data2/x.pt", "../data2", "link_out/x.pt", "/abs/x.pt", ".", "sub/../../data2/x.pt"])
def test_upload_outside_the_data_folder_is_refused(agent, rel):
    base, ws, elsewhere = agent
    code, body = _upload(base, rel)
    assert code == 400 and b"inside the data folder" in body, (rel, code, body)
    assert os.listdir(ws / "data2") == [] and sorted(os.listdir(elsewhere)) == ["secret.pth"]


def test_upload_inside_the_data_folder_lands_there(agent):
    base, ws, _ = agent
    code, body = _upload(base, "curated/sft_data.pt")
    assert code == 201, body
    assert (ws / "data" / "curated" / "sft_data.pt").read_bytes() == b"clip data"


def test_a_checkpoint_that_is_a_symlink_out_of_the_run_is_not_served(agent):
    base, _, _ = agent
    code, body = _call(f"{base}/checkpoints/model_checkpoint_latest.pth")
    assert code == 404 and SECRET not in body, (code, body[:80])
    code, body = _call(f"{base}/checkpoints/model_checkpoint_latest.pth.sha256")
    assert code == 404 and hashlib.sha256(SECRET).hexdigest().encode() not in body, (code, body[:120])
    listed = json.loads(_call(f"{base}/checkpoints")[1])["checkpoints"]
    assert [c["name"] for c in listed] == ["model_checkpoint_best.pth"]
    assert json.loads(_call(f"{base}/status")[1])["checkpoints"] == ["model_checkpoint_best.pth"]
    assert _call(f"{base}/checkpoints/model_checkpoint_best.pth") == (200, b"weights")


@pytest.mark.parametrize("name", ["..%2F..%2F..%2Felsewhere%2Fsecret.pth", "%2E%2E/status.json", "..", ".hidden.pth"])
def test_a_checkpoint_name_that_climbs_out_is_not_served(agent, name):
    base, _, _ = agent
    code, body = _call(f"{base}/checkpoints/{name}")
    assert code == 404 and SECRET not in body, (name, code, body[:80])
