"""The client side of the run agent: what RunPodBackend (or a script) uses to read a remote run."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import AgentError
from ..io import atomic_path
from .transfer import CHUNK, file_digest


class _Changed(Exception):
    """The checkpoint was replaced between its download and its digest."""


class AgentClient:
    """Talks to ``stickgen agent`` at ``base_url`` (e.g. ``https://<pod>-8765.proxy.runpod.net``)."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"AgentClient({self.base_url!r})"

    def _request(self, method: str, path: str, body=None, headers: dict | None = None):
        req = urllib.request.Request(f"{self.base_url}{path}", data=body, method=method,
                                     headers={"Authorization": f"Bearer {self._token}", **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            if exc.code == 401:
                raise AgentError(f"run agent at {self.base_url}: the token was refused (401)") from None
            raise AgentError(f"run agent at {self.base_url}{path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AgentError(f"run agent at {self.base_url} is not reachable: {reason}") from None

    def _json(self, method: str, path: str, **kw) -> Any:
        with self._request(method, path, **kw) as resp:
            return json.loads(resp.read())

    def status(self) -> dict[str, Any]:
        return self._json("GET", "/status")

    def metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        data = self._json("GET", f"/metrics?offset={int(offset)}")
        return data["rows"], int(data["next_offset"])

    def log(self, lines: int = 50) -> list[str]:
        return self._json("GET", f"/log?lines={int(lines)}")["lines"]

    def system(self) -> list[dict]:
        """The run's system metrics rows (CPU, memory, GPU samples)."""
        return self._json("GET", "/system")["rows"]

    def checkpoints(self) -> list[dict]:
        return self._json("GET", "/checkpoints")["checkpoints"]

    def download(self, name: str, dest: str | Path, tries: int = 2) -> str:
        """Stream a checkpoint to ``dest`` (atomically) and verify it after the body: the agent hashes the
        bytes while sending them and serves the digest of that version afterwards. The digest.

        A checkpoint replaced meanwhile (a new epoch) is downloaded again, up to ``tries`` times.
        """
        for attempt in range(1, tries + 1):
            try:
                return self._download_once(name, dest)
            except _Changed:
                if attempt == tries:
                    break
        raise AgentError(f"{name}: it changed during each of {tries} downloads; try again")

    def _download_once(self, name: str, dest: str | Path) -> str:
        quoted = urllib.request.quote(name)
        with self._request("GET", f"/checkpoints/{quoted}") as resp, atomic_path(dest) as tmp:
            version = resp.headers.get("X-Checkpoint-Version", "")
            h = hashlib.sha256()
            with open(tmp, "wb") as out:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    h.update(block)
                    out.write(block)
            try:
                expected = self._json("GET", f"/checkpoints/{quoted}.sha256?version={urllib.request.quote(version)}")
            except AgentError as exc:
                if "HTTP 409" in str(exc):
                    raise _Changed from None  # the exception leaves dest as it was (atomic_path)
                raise
            if h.hexdigest() != expected["sha256"]:
                raise AgentError(f"{name}: downloaded bytes have SHA-256 {h.hexdigest()}, the agent sent "
                                 f"{expected['sha256']!r}")
        return expected["sha256"]

    def fetch(self, name: str, dest: str | Path, sink: Any = None) -> str:
        """``download`` that survives a dropped connection: a ``dest.part`` of the same version is continued
        with a ranged GET; verified after the body against the agent's digest of that version. The SHA-256."""
        from .volume_storage import ChangedError, resumable_download

        info = next((c for c in self.checkpoints() if c.get("name") == name), None)
        if info is None:
            raise AgentError(f"run agent at {self.base_url}: no checkpoint {name!r} on the pod")
        quoted, version = urllib.request.quote(name), str(info.get("version", ""))

        def open_range(offset: int):
            resp = self._request("GET", f"/checkpoints/{quoted}",
                                 headers={"Range": f"bytes={offset}-", "If-Range": version} if offset else None)
            if resp.headers.get("X-Checkpoint-Version", "") != version or (offset and resp.status != 206):
                resp.close()
                raise ChangedError(name)
            return resp

        def expected() -> tuple[str, str]:
            digest = self._json("GET", f"/checkpoints/{quoted}.sha256?version={urllib.request.quote(version)}")
            return "sha256", digest["sha256"]

        return resumable_download(dest, int(info["size"]), f"agent:{self.base_url}/{name}@{version}", open_range,
                                  expected, sink, f"{name} from the pod's agent")

    def upload(self, src: str | Path, remote_path: str) -> dict[str, Any]:
        """Stream a local file into the pod's data folder at ``remote_path``; the agent verifies its SHA-256."""
        src = Path(src)
        with open(src, "rb") as fh:
            digest = file_digest(fh)
            fh.seek(0)
            return self._json("PUT", f"/upload?path={urllib.request.quote(remote_path)}", body=fh,
                              headers={"X-SHA256": digest, "Content-Length": str(os.path.getsize(src)),
                                       "Content-Type": "application/octet-stream"})

    def stop(self) -> dict[str, Any]:
        return self._json("POST", "/stop", body=b"")


def agent_client_for(run: Any) -> AgentClient:
    """The client of a remote run's agent: its URL from job_state.json, its token from ``.agent_token``
    (0600 in the run folder, never in run.json); AgentError when the folder has neither."""
    url = run.job_state().get("agent_url")
    if not url:
        raise AgentError(f"run {run.run_id}: no agent URL in its job_state.json (its pod never came up)")
    try:
        token = (run.root / ".agent_token").read_text(encoding="utf-8").strip()
    except OSError as exc:  # a copied or damaged run folder: the agent cannot be asked, the list goes on
        raise AgentError(f"run {run.run_id}: no agent token ({exc.strerror or exc})") from None
    return AgentClient(url, token)
