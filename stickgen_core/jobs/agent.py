"""The run agent: a small HTTP server next to a training run (on a pod) that a client polls.

``stickgen agent --run-dir DIR --port N``; the token comes from ``STICKGEN_AGENT_TOKEN`` and every
request, whatever its route, must carry ``Authorization: Bearer <token>`` (compared in constant
time) or gets 401.

Endpoints: ``GET /status``, ``GET /metrics?offset=N`` (lines from N on, at most ``MAX_ROWS``, and the
next offset), ``GET /log?lines=N`` (at most ``MAX_LINES``), ``GET /system`` (the trainer's CPU, memory and GPU
samples, system.jsonl, bounded by its writer), ``GET /checkpoints`` (names and sizes),
``GET /checkpoints/<name>`` (streamed at once; its version in ``X-Checkpoint-Version``),
``GET /checkpoints/<name>.sha256?version=V`` (the SHA-256 of the bytes that download sent, hashed
while streaming, so the client verifies after the body instead of waiting for a whole-file hash
before the first byte), ``PUT /upload?path=REL`` (streamed into the data folder, at most
``max_upload`` bytes, refused unless the body's SHA-256 matches ``X-SHA256``), ``POST /stop``
(SIGTERM to the trainer, or to the supervisor before training started).

Why the standard library's ThreadingHTTPServer: a few small endpoints, streaming in and out
through plain files, and nothing more to install in the pod image or audit; a thread per
request (at most ``max_connections`` at once, each with a socket timeout) keeps a long download
from blocking status polls without letting idle or half-open connections pile up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import signal
import tempfile
import threading
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..errors import AgentError, JobError
from ..system_metrics import SYSTEM_FILE, read_system
from .process import ProcessRef
from .run_record import RunRecord, tail_lines
from .transfer import CHUNK, file_digest

log = logging.getLogger(__name__)

TOKEN_ENV = "STICKGEN_AGENT_TOKEN"
MAX_LINES = 5000            # /log?lines= beyond this is cut to it
MAX_ROWS = 20000            # metric rows per answer; the client asks again from next_offset
DRAIN_LIMIT = 64 << 20      # a refused body up to this size is read (so the client sees the answer); beyond, the connection closes
DEFAULTS = {"max_connections": 32, "request_timeout": 60.0, "max_upload": 64 << 30}
_CHECKPOINT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.pth$")


def file_version(st: os.stat_result) -> str:
    """Which file a name held: an atomic replace (a new checkpoint) makes a new inode, size and time."""
    return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"


def range_start(headers: Any, version: str, size: int) -> int:
    """Where a resumed download starts: N of ``Range: bytes=N-`` when ``If-Range`` names this version, else 0
    (the whole file: the client's part belongs to a file that has since been replaced)."""
    m = re.fullmatch(r"bytes=(\d{1,15})-", (headers.get("Range") or "").strip())
    if not m or (headers.get("If-Range") or "") != version:
        return 0
    start = int(m.group(1))
    return start if 0 < start < size else 0


class _Refused(Exception):
    def __init__(self, code: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.code = code


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, run_dir: Path, token: str, data_dir: Path, host: str, port: int, *,
                 max_connections: int = DEFAULTS["max_connections"], request_timeout: float = DEFAULTS["request_timeout"],
                 max_upload: int = DEFAULTS["max_upload"]) -> None:
        if not token:
            raise AgentError(f"{TOKEN_ENV} is empty: the agent needs a token to check every request against")
        self.run = RunRecord(run_dir)  # the folder here is the truth: nothing to sync
        self.token = token.encode()
        self.data_dir = Path(data_dir).resolve()
        self.request_timeout = float(request_timeout)
        self.max_upload = int(max_upload)
        self._slots = threading.BoundedSemaphore(int(max_connections))
        self._digests: OrderedDict[tuple[str, str], str] = OrderedDict()  # (name, version) -> sha256
        self._digest_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def process_request(self, request, client_address) -> None:
        """A thread per connection while a slot is free; else 503 and close, at once."""
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def remember_digest(self, name: str, version: str, digest: str) -> None:
        with self._digest_lock:
            self._digests[(name, version)] = digest
            while len(self._digests) > 32:
                self._digests.popitem(last=False)

    def digest(self, name: str, version: str) -> str | None:
        with self._digest_lock:
            return self._digests.get((name, version))


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.request_timeout  # a silent or half-open client is dropped after this
        super().setup()

    def log_message(self, fmt: str, *args: Any) -> None:  # requests go to logging, never stderr
        log.debug("%s %s", self.address_string(), fmt % args)

    # ------------------------------------------------------------------ plumbing
    def _declared_length(self) -> int:
        try:
            return max(int(self.headers.get("Content-Length", "0")), 0)
        except ValueError:
            return -1

    def _drain(self) -> None:
        """Read a refused request's body, exactly its declared length in bounded reads, so the client
        gets the answer on a connection that stays usable; a body too big (or of unknown length) is not
        read: the connection closes after the answer instead."""
        if self._body_read:
            return
        self._body_read = True
        left = self._declared_length()
        if left < 0 or left > DRAIN_LIMIT:
            self.close_connection = True
            return
        while left > 0:
            block = self.rfile.read(min(CHUNK, left))
            if not block:
                self.close_connection = True
                return
            left -= len(block)

    def _json(self, data: Any, code: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, code: HTTPStatus, message: str) -> None:
        self._drain()
        self._json({"error": message}, code)

    def _route(self, method: str) -> None:
        self._body_read = False  # per request: one connection carries several
        got = self.headers.get("Authorization", "")
        supplied = got[7:].encode() if got.startswith("Bearer ") else b""
        if not hmac.compare_digest(supplied, self.server.token):  # first, whatever the route
            return self._refuse(HTTPStatus.UNAUTHORIZED, "unauthorised")
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        handler = {("GET", "/status"): self._status, ("GET", "/metrics"): self._metrics,
                   ("GET", "/log"): self._log, ("GET", "/system"): self._system,
                   ("GET", "/checkpoints"): self._checkpoints,
                   ("PUT", "/upload"): self._upload, ("POST", "/stop"): self._stop}.get((method, url.path))
        if handler is None and method == "GET" and url.path.startswith("/checkpoints/"):
            name = url.path[len("/checkpoints/"):]
            handler = (lambda q: self._sha256(name[:-7], q)) if name.endswith(".sha256") else \
                (lambda q: self._download(name))
        if handler is None:
            return self._refuse(HTTPStatus.NOT_FOUND, f"no endpoint {method} {url.path}")
        try:
            handler(query)
        except _Refused as exc:
            self._refuse(exc.code, str(exc))
        except (ValueError, OSError, JobError) as exc:
            self._refuse(HTTPStatus.BAD_REQUEST, str(exc))

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._route("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    # ------------------------------------------------------------------ endpoints
    def _status(self, _q: dict) -> None:
        run = self.server.run
        self._drain()
        self._json({"status": run.raw_status(), "attempt": run.job_state().get("attempt"),
                    "checkpoints": sorted(p.name for p in (run.root / "checkpoints").glob("*.pth")
                                          if not p.is_symlink())})

    def _metrics(self, q: dict) -> None:
        offset = _whole(q.get("offset", "0"), "offset")
        rows, nxt = self.server.run.read_metrics(offset)
        if len(rows) > MAX_ROWS:  # one line is one row: the rest comes on the next poll
            rows, nxt = rows[:MAX_ROWS], offset + MAX_ROWS
        self._drain()
        self._json({"rows": rows, "next_offset": nxt})

    def _log(self, q: dict) -> None:
        lines = min(_whole(q.get("lines", "50"), "lines"), MAX_LINES)
        self._drain()
        self._json({"lines": tail_lines(self.server.run.root / "train.log", lines)})

    def _system(self, _q: dict) -> None:
        self._drain()
        self._json({"rows": read_system(self.server.run.root / SYSTEM_FILE)})

    def _checkpoints(self, _q: dict) -> None:
        folder = self.server.run.root / "checkpoints"
        self._drain()
        self._json({"checkpoints": [{"name": p.name, "size": p.stat().st_size, "path": str(p),
                                     "version": file_version(p.stat())}
                                    for p in sorted(folder.glob("*.pth")) if not p.is_symlink()]})

    def _checkpoint_path(self, name: str) -> Path:
        path = self.server.run.root / "checkpoints" / name
        # a symlink is not the run's own file (it may lead anywhere on the pod): never served
        if not _CHECKPOINT_NAME.match(name) or path.is_symlink() or not path.is_file():
            raise _Refused(HTTPStatus.NOT_FOUND, f"no checkpoint {name!r}")
        return path

    def _download(self, name: str) -> None:
        """Headers at once, then the bytes of one open file (an atomic replace meanwhile cannot mix two
        versions), hashed on the way out; the digest is served by the ``.sha256`` route afterwards."""
        path = self._checkpoint_path(name)
        self._drain()
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            version = file_version(st)
            start = range_start(self.headers, version, st.st_size)  # a resumed download: the rest only
            self.send_response(HTTPStatus.PARTIAL_CONTENT if start else HTTPStatus.OK)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(st.st_size - start))
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{st.st_size - 1}/{st.st_size}")
            self.send_header("X-Checkpoint-Version", version)
            self.end_headers()
            fh.seek(start)
            h, sent = hashlib.sha256(), start
            while sent < st.st_size:
                block = fh.read(min(CHUNK, st.st_size - sent))
                if not block:
                    break
                h.update(block)
                self.wfile.write(block)
                sent += len(block)
            if sent == st.st_size and not start:  # a part's hash is not the file's
                self.server.remember_digest(name, version, h.hexdigest())

    def _sha256(self, name: str, q: dict) -> None:
        path = self._checkpoint_path(name)
        version = q.get("version", "")
        digest = self.server.digest(name, version)
        if digest is None:  # not downloaded through this agent (or forgotten): hash the file if it is still that version
            with open(path, "rb") as fh:
                current = file_version(os.fstat(fh.fileno()))
                if version and current != version:
                    raise _Refused(HTTPStatus.CONFLICT, f"{name} changed since version {version} (now {current}); "
                                                        "download it again")
                digest, version = file_digest(fh), current
            self.server.remember_digest(name, version, digest)
        self._drain()
        self._json({"name": name, "version": version, "sha256": digest})

    def _upload(self, q: dict) -> None:
        rel = q.get("path", "")
        target = (self.server.data_dir / rel).resolve()
        expected = self.headers.get("X-SHA256", "").lower()
        length = self._declared_length()
        if not rel or self.server.data_dir not in target.parents:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"path: expected a relative path inside the data folder, got {rel!r}")
        if "Content-Length" not in self.headers or length < 0 or not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise _Refused(HTTPStatus.BAD_REQUEST, "upload needs Content-Length and the body's SHA-256 in X-SHA256")
        if length > self.server.max_upload:
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"upload of {length} bytes is over this agent's limit of {self.server.max_upload} bytes")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        h, left = hashlib.sha256(), length
        self._body_read = True  # from here on the body is this route's to read (or the connection closes)
        try:
            with os.fdopen(fd, "wb") as out:
                while left:
                    block = self.rfile.read(min(CHUNK, left))
                    if not block:
                        self.close_connection = True
                        raise ValueError(f"upload ended after {length - left} of {length} bytes")
                    h.update(block)
                    out.write(block)
                    left -= len(block)
            if not hmac.compare_digest(h.hexdigest(), expected):
                raise ValueError(f"checksum mismatch for {rel}: received {h.hexdigest()}, expected {expected}")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            if left:  # part of the body is still on the wire: this connection cannot carry another request
                self.close_connection = True
            raise
        self._json({"path": str(target), "size": length, "sha256": expected}, HTTPStatus.CREATED)

    def _stop(self, _q: dict) -> None:
        # the trainer itself when it runs (the pod's entrypoint keeps serving after a stop);
        # else the supervisor, which ends an embedding step
        run = self.server.run
        self._drain()
        state = run.job_state()
        sent = False
        for role in ("trainer", "supervisor"):
            ref = ProcessRef.from_dict(state.get(role))
            if ref is not None and ref.signal(signal.SIGTERM, run.root):
                sent = True
                break
        run.update_job_state(stop_requested=True)
        self._json({"stopping": sent, "state": run.raw_status().get("state")})


def _whole(value: str, name: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{name}: expected a whole number >= 0, got {value[:40]!r}")
    return int(value)


def serve(run_dir: str | Path, port: int, *, token: str | None = None, data_dir: str | Path | None = None,
          host: str = "0.0.0.0", **limits: Any) -> AgentServer:
    """A bound agent server (call ``serve_forever``); token defaults to ``$STICKGEN_AGENT_TOKEN``.
    ``limits``: ``max_connections``, ``request_timeout`` (s), ``max_upload`` (bytes)."""
    token = os.environ.get(TOKEN_ENV, "") if token is None else token
    run_dir = Path(run_dir)
    return AgentServer(run_dir, token, Path(data_dir) if data_dir else run_dir.parent.parent / "data", host, port,
                       **limits)
