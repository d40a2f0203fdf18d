"""A RunPod network volume through RunPod's S3-compatible API (``boto3``): data up, checkpoints home.

The volume is the bucket (its id) at ``https://s3api-<data centre>.runpod.io`` with the data centre
as the region; a key ``a/b`` is the file ``<volume_path>/a/b`` on a pod. Credentials come from
``RUNPOD_S3_ACCESS_KEY`` / ``RUNPOD_S3_SECRET_KEY``, else boto3's own chain (``AWS_*``, the AWS
config files, the ``s3_profile`` setting). ``s3_endpoint_url`` or ``$STICKGEN_RUNPOD_S3_ENDPOINT``
points elsewhere (a test server). Keys and secrets never reach a message, a log or a file.

Uploads are content-addressed (``stickgen/data/<sha256>/<name>``): a file already there (HEAD,
same size) is not sent again. Downloads continue a ``.part`` file with ranged GETs whose ETag
must be the HEAD's, and are checked after the body has streamed (size, then the digest the volume
gives: our upload's SHA-256 metadata, a ``<name>.sha256`` file beside it, or a plain-MD5 ETag,
a miss against which a second whole download settles).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import VolumeStorageError
from .transfer import CHUNK, Progress, Sink, file_sha256, md5_of  # noqa: F401 - Sink: the API fetch and delivery use

log = logging.getLogger(__name__)

ACCESS_ENV, SECRET_ENV = "RUNPOD_S3_ACCESS_KEY", "RUNPOD_S3_SECRET_KEY"
ENDPOINT_ENV = "STICKGEN_RUNPOD_S3_ENDPOINT"
SETTINGS: dict[str, Any] = {"s3_endpoint_url": None, "s3_profile": None}  # merged into RunPod's settings
DATA_PREFIX = "stickgen/data"
_PART_SIZE = 16 << 20  # multipart above this; 16 MiB parts (S3's minimum is 5 MiB)
_MD5 = re.compile(r'^"?([0-9a-f]{32})"?$')


# data centres whose network volumes have the S3 API (RunPod's S3 API page); any other id may be typed
S3_DATA_CENTRES = ("EU-CZ-1", "EU-RO-1", "EUR-IS-1", "EUR-NO-1", "US-CA-2", "US-GA-2", "US-IL-1", "US-KS-2",
                   "US-MD-1", "US-MO-1", "US-MO-2", "US-NC-1", "US-NC-2")


def s3_keys_source() -> str | None:
    """Where the volume's S3 keys would come from (a name, never a value), or None: a cheap look for a GUI
    (no network: boto3's full chain may ask an instance-metadata service)."""
    if os.environ.get(ACCESS_ENV, "").strip() and os.environ.get(SECRET_ENV, "").strip():
        return f"{ACCESS_ENV} / {SECRET_ENV}"
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    creds = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
    return str(creds) if creds.is_file() else None


def endpoint_for(data_center_id: str) -> str:
    """RunPod's S3 endpoint of a data centre (``EU-RO-1`` -> ``https://s3api-eu-ro-1.runpod.io``)."""
    return f"https://s3api-{data_center_id.strip().lower()}.runpod.io"


def cached_sha256(path: Path) -> str:
    """``file_sha256``, remembered per file (path, size, mtime, inode) so a second launch of a multi-GB split
    costs a HEAD, not a re-read; the cache is best effort (an unwritable home only costs the re-read)."""
    st = path.stat()
    key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns, st.st_ino]
    cache = Path(os.environ.get("STICKGEN_CACHE") or Path.home() / ".cache" / "stickgen") / "sha256.json"
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    hit = known.get(key)
    if isinstance(hit, dict) and hit.get("stamp") == stamp and re.fullmatch(r"[0-9a-f]{64}", str(hit.get("sha256"))):
        return hit["sha256"]
    digest = file_sha256(path)
    known.pop(key, None)
    known[key] = {"stamp": stamp, "sha256": digest}
    try:
        from ..io import atomic_write_text

        atomic_write_text(cache, json.dumps(dict(list(known.items())[-500:])))
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is no cache, not an error
        log.debug("digest cache %s not written: %s", cache, exc)
    return digest


@dataclass
class Volume:
    """One network volume: ``volume_id`` is the bucket; ``mount_path`` where pods see its root."""

    volume_id: str
    data_center_id: str | None = None
    mount_path: str = "/runpod-volume"
    endpoint_url: str | None = None
    profile: str | None = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "Volume":
        """The volume a RunPod job's settings name; VolumeStorageError naming the missing setting."""
        vid = settings.get("network_volume_id")
        if not vid:
            raise VolumeStorageError(
                "job.backend_settings.network_volume_id: a RunPod run needs a network volume (--network-volume-id; "
                "create one on runpod.io -> Storage in a data centre with the S3 API): the data goes there first and "
                "checkpoints outlive the pod there")
        endpoint = settings.get("s3_endpoint_url") or os.environ.get(ENDPOINT_ENV) or None
        dc = settings.get("data_center_id")
        if not dc and not endpoint:
            raise VolumeStorageError(
                "job.backend_settings.data_center_id: the network volume's data centre (e.g. EU-RO-1, "
                "--data-center-id) is needed to reach it through RunPod's S3 API")
        # the region is the data centre id as RunPod writes it (upper case: SigV4 compares it as given)
        return cls(str(vid), str(dc).strip().upper() if dc else None,
                   str(settings.get("volume_path") or "/runpod-volume").rstrip("/"),
                   endpoint, settings.get("s3_profile"))

    # ------------------------------------------------------------------ connection
    @property
    def endpoint(self) -> str:
        return self.endpoint_url or endpoint_for(self.data_center_id or "")

    def client(self) -> Any:
        """A boto3 S3 client for this volume's endpoint (made once)."""
        cached = getattr(self, "_client", None)
        if cached is not None:
            return cached
        import boto3
        from botocore.config import Config

        access, secret = os.environ.get(ACCESS_ENV, "").strip(), os.environ.get(SECRET_ENV, "").strip()
        session = boto3.Session(profile_name=self.profile) if self.profile and not access else boto3.Session()
        keys = {"aws_access_key_id": access, "aws_secret_access_key": secret} if access and secret else {}
        if not keys and session.get_credentials() is None:
            raise VolumeStorageError(
                f"no S3 API key for the network volume: set {ACCESS_ENV} and {SECRET_ENV} (runpod.io -> Settings -> "
                "S3 API Keys: the access key is your user_... id, the secret rps_...), or an AWS profile (s3_profile)")
        # path-style, SigV4, the data centre as region; no optional CRC checksums (third-party S3s refuse them)
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 5,
                        "mode": "standard"}, connect_timeout=10, read_timeout=60,
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        self._client = session.client("s3", endpoint_url=self.endpoint, region_name=self.data_center_id or "us-east-1",
                                      config=config, **keys)
        return self._client

    def _fail(self, exc: Exception, what: str) -> VolumeStorageError:
        """One line for a boto3 error: what was asked, the S3 error code, never a key."""
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if str(code) in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                return VolumeStorageError(f"volume {self.volume_id} at {self.endpoint}: {what}: the S3 API key was "
                                          f"refused ({code}); check {ACCESS_ENV} / {SECRET_ENV}")
            if str(code) in ("NoSuchBucket",):
                return VolumeStorageError(f"volume {self.volume_id}: no such network volume at {self.endpoint} "
                                          "(check network_volume_id and data_center_id)")
            return VolumeStorageError(f"volume {self.volume_id}: {what}: S3 error {code}")
        if isinstance(exc, BotoCoreError):
            return VolumeStorageError(f"volume {self.volume_id}: {what}: {self.endpoint} is not reachable "
                                      f"({type(exc).__name__})")
        return VolumeStorageError(f"volume {self.volume_id}: {what}: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ paths
    def path_of(self, key: str) -> str:
        """The path a pod sees for ``key``."""
        return f"{self.mount_path}/{key}"

    def key_of(self, path: str) -> str | None:
        """The key of a path on the volume (``/runpod-volume/a/b`` -> ``a/b``), None when it is not on it."""
        prefix = self.mount_path + "/"
        if not path.startswith(prefix) or ".." in Path(path).parts:
            return None
        return path[len(prefix):]

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's size, ETag and metadata, or None when there is none."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client().head_object(Bucket=self.volume_id, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail(exc, f"HEAD {key}") from None
        except BotoCoreError as exc:
            raise self._fail(exc, f"HEAD {key}") from None

    # ------------------------------------------------------------------ up
    def upload(self, local: str | Path, name: str | None = None, sink: Sink | None = None) -> str:
        """Put ``local`` at ``stickgen/data/<sha256>/<name>`` unless it is there already; its path on a pod."""
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        local = Path(local)
        if not local.is_file():
            raise VolumeStorageError(f"{local}: no such file to upload to volume {self.volume_id}")
        size = local.stat().st_size
        digest = cached_sha256(local)
        key = f"{DATA_PREFIX}/{digest}/{name or local.name}"
        found = self.head(key)
        if found is not None and int(found.get("ContentLength", -1)) == size:
            log.info("%s is on volume %s already (%s)", local.name, self.volume_id, key)
            return self.path_of(key)
        config = TransferConfig(multipart_threshold=_PART_SIZE, multipart_chunksize=_PART_SIZE, max_concurrency=4)
        progress = Progress(f"upload {local.name}", size, sink)
        try:
            self.client().upload_file(str(local), self.volume_id, key, Config=config, Callback=progress,
                                      ExtraArgs={"Metadata": {"sha256": digest}})
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"upload {local.name}") from None
        except Exception as exc:  # s3transfer wraps the botocore error
            cause = exc.__cause__ or exc.__context__
            raise self._fail(cause if isinstance(cause, (BotoCoreError, ClientError)) else exc,
                             f"upload {local.name}") from None
        landed = self.head(key)
        if landed is None or int(landed.get("ContentLength", -1)) != size:
            raise VolumeStorageError(f"volume {self.volume_id}: {key} has {landed and landed.get('ContentLength')} "
                                     f"bytes after the upload, expected {size}")
        log.info("uploaded %s to volume %s (%s, %.1f MB/s)", local.name, self.volume_id, key, progress.rate() / 1e6)
        return self.path_of(key)

    # ------------------------------------------------------------------ down
    def expected_sha256(self, key: str, head: dict[str, Any]) -> tuple[str, str] | None:
        """(algorithm, hex digest) the volume vouches for, if it vouches for any."""
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        if re.fullmatch(r"[0-9a-f]{64}", meta.get("sha256", "")):
            return "sha256", meta["sha256"]
        side = self.head(key + ".sha256")
        if side is not None and int(side.get("ContentLength", 0)) <= 4096:
            text = self.client().get_object(Bucket=self.volume_id, Key=key + ".sha256")["Body"].read(4096).decode()
            m = re.match(r"\s*([0-9a-f]{64})\b", text)
            if m:
                return "sha256", m.group(1)
        m = _MD5.match(str(head.get("ETag", "")))
        return ("md5", m.group(1)) if m else None

    def download(self, key: str, dest: str | Path, sink: Sink | None = None) -> str:
        """Fetch ``key`` to ``dest`` (resuming ``dest.part``), verified after the body; its SHA-256."""
        from botocore.exceptions import BotoCoreError, ClientError

        head = self.head(key)
        if head is None:
            raise VolumeStorageError(f"volume {self.volume_id}: no {key} (nothing at {self.path_of(key)})")
        size, etag = int(head["ContentLength"]), str(head.get("ETag", ""))

        def open_range(offset: int):
            # the answer's ETag must be the HEAD's: no If-Match, which an S3 look-alike may not honour
            try:
                resp = self.client().get_object(Bucket=self.volume_id, Key=key,
                                                **({"Range": f"bytes={offset}-"} if offset else {}))
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(exc, f"GET {key}") from None
            if str(resp.get("ETag", "")) != etag:
                resp["Body"].close()
                raise ChangedError(key)
            return resp["Body"]

        want = self.expected_sha256(key, head)
        what = f"volume {self.volume_id}: {key}"
        try:
            return resumable_download(dest, size, f"s3:{self.volume_id}/{key}@{etag}", open_range,
                                      lambda: want, sink, what)
        except DigestMismatch as exc:
            if want is None or want[0] != "md5":
                raise VolumeStorageError(str(exc)) from None
            first = exc.sha256
        # a second, whole download (a bad .part is the usual cause); if it misses the ETag's MD5 too but agrees
        # byte for byte with the first, the ETag is not an MD5 (a filesystem-backed S3 may make it otherwise)
        second = resumable_download(dest, size, f"s3:{self.volume_id}/{key}@{etag}#again", open_range,
                                    lambda: None, sink, what)
        if md5_of(Path(dest)) == want[1]:
            return second
        if second != first:
            Path(dest).unlink(missing_ok=True)
            raise VolumeStorageError(f"{what}: two downloads differ (SHA-256 {first} then {second}) and "
                                     f"neither has the ETag's MD5 {want[1]}; nothing was kept")
        log.warning("%s: its ETag is not the MD5 of its bytes; two whole downloads agree (SHA-256 %s)", what, second)
        return second

class ChangedError(Exception):
    """The source's bytes changed between two requests of one download (a new checkpoint was saved)."""


class Interrupted(VolumeStorageError):
    """The body stopped coming (a dropped connection, a proxy's time limit); the ``.part`` keeps what came."""


class DigestMismatch(VolumeStorageError):
    """The bytes that arrived do not have the digest the source gave (nothing was kept)."""

    def __init__(self, message: str, sha256: str) -> None:
        super().__init__(message)
        self.sha256 = sha256


def resumable_download(dest: str | Path, size: int, identity: str, open_range: Callable[[int], Any],
                       expected: Callable[[], tuple[str, str] | None], sink: Sink | None, what: str) -> str:
    """Stream ``size`` bytes into ``dest.part`` from where an earlier try of the same ``identity`` stopped,
    verify size and digest once the body is in, then move it over ``dest``. Returns the SHA-256.

    ``open_range(offset)`` returns a readable body from ``offset`` on, or raises ChangedError when the
    source is no longer the version ``identity`` names (the part is dropped: the next try starts over).
    """
    from ..errors import JobError

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part, note = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
    offset = part.stat().st_size if part.is_file() else 0
    try:
        same = json.loads(note.read_text(encoding="utf-8")).get("identity") == identity
    except (OSError, ValueError):
        same = False
    if not same or offset > size:
        offset = 0
    note.write_text(json.dumps({"identity": identity, "size": size}), encoding="utf-8")
    sha, md5 = hashlib.sha256(), hashlib.md5()
    progress = Progress(f"download {dest.name}", size, sink, done=offset)
    if offset:  # the bytes kept from an earlier try count towards the digest
        log.info("%s: continuing at byte %d of %d", what, offset, size)
        with open(part, "rb") as kept:
            for block in iter(lambda: kept.read(min(CHUNK, offset - kept.tell())), b""):
                sha.update(block)
                md5.update(block)
    changed = False
    with open(part, "r+b" if offset else "wb") as out:
        out.seek(offset)
        out.truncate()
        try:
            if offset < size:
                body = open_range(offset)
                for block in iter(lambda: body.read(CHUNK), b""):
                    out.write(block)
                    sha.update(block)
                    md5.update(block)
                    progress(len(block))
        except ChangedError:
            changed = True
        except (JobError, InterruptedError):  # InterruptedError: cancelled; the part stays for the next try
            raise
        except Exception as exc:  # a dropped connection: what arrived stays in the .part for the next try
            raise Interrupted(f"{what}: interrupted after {progress.done} of {size} bytes "
                                     f"({type(exc).__name__}); run the fetch again to continue") from None
        finally:
            out.flush()
            os.fsync(out.fileno())
    if changed:
        part.unlink(missing_ok=True)
        raise VolumeStorageError(f"{what}: it changed while being downloaded (a new save?); run the fetch again")
    got = part.stat().st_size
    if got != size:
        raise VolumeStorageError(f"{what}: received {got} of {size} bytes; run the fetch again to continue")
    check = expected()
    if check is not None:
        algo, want = check
        have = (sha if algo == "sha256" else md5).hexdigest()
        if have != want:
            part.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
            raise DigestMismatch(f"{what}: the downloaded bytes have {algo} {have}, the source says {want}; "
                                 "nothing was kept", sha.hexdigest())
    else:
        log.warning("%s: the source gives no digest to check against; size checked only", what)
    os.replace(part, dest)
    note.unlink(missing_ok=True)
    return sha.hexdigest()
