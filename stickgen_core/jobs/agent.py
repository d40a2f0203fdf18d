"""The run agent: a small HTTP server next to a training run (on a pod) that a client polls.

``stickgen agent --run-dir DIR --port N``; the token comes from ``STICKGEN_AGENT_TOKEN`` and every
request must carry ``Authorization: Bearer <token>`` (compared in constant time) or gets 401.

Endpoints: ``GET /status``, ``GET /metrics?offset=N`` (lines from N on, and the next offset),
``GET /log?lines=N``, ``GET /checkpoints`` (names and sizes), ``GET /checkpoints/<name>``
(streamed, SHA-256 in the ``X-SHA256`` header), ``PUT /upload?path=REL`` (streamed into the data
folder, refused unless the body's SHA-256 matches ``X-SHA256``), ``POST /stop`` (SIGTERM to the
trainer, or to the supervisor before training started).

Why the standard library's ThreadingHTTPServer: six small endpoints, streaming in and out
through plain files, and nothing more to install in the pod image or audit; a thread per
request keeps a long download from blocking status polls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import tempfile
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..errors import AgentError
from .backends import Backend
from .process import ProcessRef
from .run import Run, tail_lines

log = logging.getLogger(__name__)

TOKEN_ENV = "STICKGEN_AGENT_TOKEN"
CHUNK = 1 << 20


def file_sha256(fh, chunk: int = CHUNK) -> str:
    """SHA-256 of an open binary file from its current position to the end."""
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(chunk), b""):
        h.update(block)
    return h.hexdigest()


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, run_dir: Path, token: str, data_dir: Path, host: str, port: int) -> None:
        if not token:
            raise AgentError(f"{TOKEN_ENV} is empty: the agent needs a token to check every request against")
        self.run = Run(run_dir, backend=Backend())  # the folder here is the truth: nothing to sync
        self.token = token.encode()
        self.data_dir = Path(data_dir).resolve()
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # requests go to logging, never stderr
        log.debug("%s %s", self.address_string(), fmt % args)

    # ------------------------------------------------------------------ plumbing
    def _authorised(self) -> bool:
        got = self.headers.get("Authorization", "")
        supplied = got[7:].encode() if got.startswith("Bearer ") else b""
        if hmac.compare_digest(supplied, self.server.token):
            return True
        self._json({"error": "unauthorised"}, HTTPStatus.UNAUTHORIZED)
        return False

    def _json(self, data: Any, code: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        if not self._authorised():
            return
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        handler = {("GET", "/status"): self._status, ("GET", "/metrics"): self._metrics,
                   ("GET", "/log"): self._log, ("GET", "/checkpoints"): self._checkpoints,
                   ("PUT", "/upload"): self._upload, ("POST", "/stop"): self._stop}.get((method, url.path))
        if handler is None and method == "GET" and url.path.startswith("/checkpoints/"):
            return self._download(url.path.rsplit("/", 1)[1])
        if handler is None:
            return self._json({"error": f"no endpoint {method} {url.path}"}, HTTPStatus.NOT_FOUND)
        try:
            handler(query)
        except (ValueError, OSError) as exc:
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._route("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    # ------------------------------------------------------------------ endpoints
    def _status(self, _q: dict) -> None:
        run = self.server.run
        self._json({"status": run.raw_status(), "attempt": run.job_state().get("attempt"),
                    "checkpoints": sorted(p.name for p in (run.root / "checkpoints").glob("*.pth"))})

    def _metrics(self, q: dict) -> None:
        rows, offset = self.server.run.read_metrics(int(q.get("offset", 0)))
        self._json({"rows": rows, "next_offset": offset})

    def _log(self, q: dict) -> None:
        self._json({"lines": tail_lines(self.server.run.root / "train.log", int(q.get("lines", 50)))})

    def _checkpoints(self, _q: dict) -> None:
        folder = self.server.run.root / "checkpoints"
        self._json({"checkpoints": [{"name": p.name, "size": p.stat().st_size, "path": str(p)}
                                    for p in sorted(folder.glob("*.pth"))]})

    def _download(self, name: str) -> None:
        path = self.server.run.root / "checkpoints" / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return self._json({"error": f"no checkpoint {name!r}"}, HTTPStatus.NOT_FOUND)
        # one open file for the hash and the bytes: an atomic replace meanwhile cannot mix two versions
        with open(path, "rb") as fh:
            digest = file_sha256(fh)
            size = fh.tell()
            fh.seek(0)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("X-SHA256", digest)
            self.end_headers()
            for block in iter(lambda: fh.read(CHUNK), b""):
                self.wfile.write(block)

    def _upload(self, q: dict) -> None:
        rel = q.get("path", "")
        target = (self.server.data_dir / rel).resolve()
        expected = self.headers.get("X-SHA256", "").lower()
        length = int(self.headers.get("Content-Length", "-1"))
        problem = None
        if not rel or self.server.data_dir not in target.parents:
            problem = f"path: expected a relative path inside the data folder, got {rel!r}"
        elif length < 0 or len(expected) != 64:
            problem = "upload needs Content-Length and the body's SHA-256 in X-SHA256"
        if problem:
            for _ in range(0, max(length, 0), CHUNK):  # read the body so the client sees the answer
                self.rfile.read(CHUNK)
            raise ValueError(problem)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        h, left = hashlib.sha256(), length
        try:
            with os.fdopen(fd, "wb") as out:
                while left:
                    block = self.rfile.read(min(CHUNK, left))
                    if not block:
                        raise ValueError(f"upload ended after {length - left} of {length} bytes")
                    h.update(block)
                    out.write(block)
                    left -= len(block)
            if not hmac.compare_digest(h.hexdigest(), expected):
                raise ValueError(f"checksum mismatch for {rel}: received {h.hexdigest()}, expected {expected}")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._json({"path": str(target), "size": length, "sha256": expected}, HTTPStatus.CREATED)

    def _stop(self, _q: dict) -> None:
        # the trainer itself when it runs (the pod's entrypoint keeps serving after a stop);
        # else the supervisor, which ends an embedding step
        state = self.server.run.job_state()
        sent = False
        for role in ("trainer", "supervisor"):
            ref = ProcessRef.from_dict(state.get(role))
            if ref is not None and ref.signal(signal.SIGTERM):
                sent = True
                break
        self.server.run.update_job_state(stop_requested=True)
        self._json({"stopping": sent, "state": self.server.run.raw_status().get("state")})


def serve(run_dir: str | Path, port: int, *, token: str | None = None, data_dir: str | Path | None = None,
          host: str = "0.0.0.0") -> AgentServer:
    """A bound agent server (call ``serve_forever``); token defaults to ``$STICKGEN_AGENT_TOKEN``."""
    token = os.environ.get(TOKEN_ENV, "") if token is None else token
    run_dir = Path(run_dir)
    return AgentServer(run_dir, token, Path(data_dir) if data_dir else run_dir.parent.parent / "data", host, port)
