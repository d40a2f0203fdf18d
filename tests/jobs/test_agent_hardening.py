"""The run agent under hostile or careless clients: the token on every route, refused bodies of any
size answered at once on a connection that stays usable, a connection cap, socket timeouts, an
upload cap, a lines cap, and a download whose digest comes after the body."""

import hashlib
import http.client
import os
import socket
import threading
import time

import pytest

from stickgen_core.errors import AgentError
from stickgen_core.jobs import agent as agent_mod
from stickgen_core.jobs.agent import CHUNK, MAX_LINES, serve
from stickgen_core.jobs.agent_client import AgentClient

from .test_agent import TOKEN, run_dir  # noqa: F401 - fixture

ROUTES = [("GET", "/status"), ("GET", "/metrics?offset=0"), ("GET", "/log?lines=5"), ("GET", "/checkpoints"),
          ("GET", "/checkpoints/model_checkpoint_best.pth"), ("GET", "/checkpoints/model_checkpoint_best.pth.sha256"),
          ("PUT", "/upload?path=x.pt"), ("POST", "/stop"), ("GET", "/no-such-route")]


@pytest.fixture
def served(run_dir):  # noqa: F811
    servers = []

    def make(**limits):
        server = serve(run_dir, 0, token=TOKEN, host="127.0.0.1", **limits)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def _conn(server, timeout=5):
    return http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=timeout)


@pytest.mark.parametrize("method,path", ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer nope", TOKEN, f"Bearer {TOKEN}x", "Basic " + TOKEN])
def test_every_route_refuses_a_missing_or_wrong_token(served, method, path, auth):
    server = served()
    conn = _conn(server)
    headers = {"Authorization": auth} if auth else {}
    body = b"z" * 100 if method == "PUT" else None
    conn.request(method, path, body=body, headers={**headers, "X-SHA256": hashlib.sha256(b"z" * 100).hexdigest()})
    resp = conn.getresponse()
    assert resp.status == 401 and resp.read() == b'{"error": "unauthorised"}'
    assert not (server.data_dir / "x.pt").exists()
    conn.request("GET", "/status", headers={"Authorization": f"Bearer {TOKEN}"})  # the same connection goes on
    assert conn.getresponse().status == 200


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
@pytest.mark.parametrize("why", ["token", "checksum header", "path"])
def test_a_refused_upload_is_answered_at_once_whatever_its_size(served, size, why):
    server = served()
    conn = _conn(server)
    headers = {"Authorization": f"Bearer {TOKEN}", "X-SHA256": "0" * 64}
    path = "/upload?path=ok.pt"
    if why == "token":
        headers["Authorization"] = "Bearer wrong"
    elif why == "checksum header":
        headers["X-SHA256"] = "short"
    else:
        path = "/upload?path=../../escape.pt"
    t0 = time.monotonic()
    conn.request("PUT", path, body=os.urandom(size), headers=headers)
    resp = conn.getresponse()
    resp.read()
    assert resp.status in (400, 401) and time.monotonic() - t0 < 3
    conn.request("GET", "/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().status == 200  # the body was drained exactly: the next request parses


def test_an_upload_over_the_cap_is_413_and_the_connection_closes(served, tmp_path):
    server = served(max_upload=1000)
    src = tmp_path / "big.pt"
    src.write_bytes(os.urandom(1001))
    with pytest.raises(AgentError, match="413.*over this agent's limit of 1000 bytes"):
        AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN).upload(src, "big.pt")
    small = tmp_path / "small.pt"
    small.write_bytes(os.urandom(1000))  # at the cap: accepted
    AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN).upload(small, "small.pt")
    assert (server.data_dir / "small.pt").read_bytes() == small.read_bytes()
    # a huge refused body is not read at all: answered, then the connection closes
    sock = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5)
    sock.sendall(b"PUT /upload?path=x.pt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer no\r\n"
                 b"Content-Length: 100000000000\r\n\r\n")
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401") and b"Connection: close" in answer
    sock.close()


def test_connection_cap_and_socket_timeout(served):
    server = served(max_connections=4, request_timeout=1.0)
    idle = [socket.create_connection(("127.0.0.1", server.server_address[1])) for _ in range(4)]  # half-open
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5)
    assert extra.recv(100).startswith(b"HTTP/1.1 503")  # refused at once, no thread held
    extra.close()
    time.sleep(1.6)  # the idle ones time out and give their slots back
    client = AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    assert client.status()["status"]["state"] == "running"
    assert all(s.recv(100) == b"" for s in idle)  # closed by the agent
    for s in idle:
        s.close()


def test_lines_are_capped_and_bad_numbers_refused(served, run_dir):  # noqa: F811
    (run_dir / "train.log").write_text("".join(f"l{i}\n" for i in range(MAX_LINES + 50)))
    client = AgentClient(f"http://127.0.0.1:{served().server_address[1]}", TOKEN)
    assert len(client.log(MAX_LINES + 50)) == MAX_LINES and len(client.log(MAX_LINES)) == MAX_LINES
    assert len(client.log(MAX_LINES - 1)) == MAX_LINES - 1
    for bad in ("-1", "1e9", "x"):
        with pytest.raises(AgentError, match="HTTP 400: lines: expected a whole number"):
            client._json("GET", f"/log?lines={bad}")


def test_download_sends_headers_before_hashing_and_the_digest_after(served, run_dir, tmp_path, monkeypatch):  # noqa: F811
    server = served()
    hashed_before_headers = []
    real = agent_mod.file_digest
    monkeypatch.setattr(agent_mod, "file_digest", lambda *a, **k: hashed_before_headers.append(1) or real(*a, **k))
    client = AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    dest = tmp_path / "best.pth"
    digest = client.download("model_checkpoint_best.pth", dest)
    original = (run_dir / "checkpoints" / "model_checkpoint_best.pth").read_bytes()
    assert digest == hashlib.sha256(original).hexdigest() and dest.read_bytes() == original
    assert not hashed_before_headers  # hashed while streaming, served from that


def test_a_checkpoint_replaced_mid_download_is_fetched_again_never_mixed(served, run_dir, tmp_path):  # noqa: F811
    server = served()
    ck = run_dir / "checkpoints" / "model_checkpoint_best.pth"
    client = AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    with client._request("GET", "/checkpoints/model_checkpoint_best.pth") as resp:
        old_version = resp.headers["X-Checkpoint-Version"]
        resp.read()
    new = os.urandom(2 << 20)
    tmp = ck.with_suffix(".new")
    tmp.write_bytes(new)
    os.replace(tmp, ck)  # a new epoch's checkpoint, atomically
    with pytest.raises(AgentError, match="HTTP 409.*changed since version 1-2-3"):  # never a digest of other bytes
        client._json("GET", "/checkpoints/model_checkpoint_best.pth.sha256?version=1-2-3")
    # the version a finished download streamed stays verifiable (hashed on the way out)
    old = client._json("GET", f"/checkpoints/model_checkpoint_best.pth.sha256?version={old_version}")
    assert old["version"] == old_version and old["sha256"] != hashlib.sha256(new).hexdigest()
    dest = tmp_path / "best.pth"
    assert client.download("model_checkpoint_best.pth", dest) == hashlib.sha256(new).hexdigest()
    assert dest.read_bytes() == new
