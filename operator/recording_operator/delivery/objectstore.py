"""Verified upload of one file to an S3-compatible store (aiobotocore).

Nothing partial ever appears under the final key: a file up to one part goes in one PUT, a
larger one as a multipart upload that becomes visible only when completed. The store checks
what it received: every PUT and part carries ``Content-MD5`` (a corrupted byte is refused), and
the object's ETag and size read back afterwards (HEAD) must be exactly what we sent -- the MD5,
or for a multipart object the MD5 of the parts' MD5s and their count -- before the caller may
count the file as delivered. The SHA-256 of the whole file goes along as metadata and in the
``file.uploaded`` event, for anyone who downloads it.

Why aiobotocore: the reference S3 client (botocore) on the asyncio loop the delivery process
already runs for Kubernetes and webhooks; it gives the explicit multipart calls (create, part,
complete, abort, list leftovers after a crash), per-request Content-MD5, the standard AWS
credential chain (the embedded mode's AWS_* variables) and path-style addressing for MinIO,
versitygw, Ceph or R2. obstore is faster per byte but hides the part layout, so neither the
parts' checksums nor the leftovers of a killed upload can be checked.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..model.delivery import UploadConfig

#: Part size of multipart uploads (S3's minimum is 5 MiB for every part but the last).
DEFAULT_PART_SIZE = 8 * 1024 * 1024

_CONTENT_TYPES = {".ts": "video/mp2t", ".mp4": "video/mp4", ".xml": "application/xml"}
_CREDENTIALS = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity"}


def content_type(path: str) -> str:
    return _CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


class StoreError(Exception):
    """The store did not take the file. ``reason`` is a short CamelCase word for conditions,
    Kubernetes Events and metrics; the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class Uploaded:
    url: str
    etag: str
    #: ``sha256:<hex>`` of the whole file.
    checksum: str
    size: int


def _describe(exc: BaseException, bucket: str, endpoint: str) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        text = str(error.get("Message") or code)
        if code in _CREDENTIALS or code == "403":
            return StoreError("CredentialsRefused",
                              f"the store at {endpoint} refused the credentials ({code}: {text})")
        if code in ("NoSuchBucket", "404"):
            return StoreError("BucketMissing", f"the bucket {bucket!r} does not exist at "
                              f"{endpoint} ({text})")
        return StoreError(code, f"the store at {endpoint} answered {code}: {text}")
    if isinstance(exc, NoCredentialsError):
        return StoreError("NoCredentials", "no S3 credentials: name a Secret (upload.secretName)"
                          " or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, BotoCoreError | OSError | asyncio.TimeoutError):
        return StoreError("StoreUnreachable", f"cannot reach the store at {endpoint}: {exc}")
    return StoreError("UploadFailed", f"upload to {endpoint} failed: {exc!r}")


def _read_chunk(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def expected_etag(md5s: list[bytes]) -> str:
    """The ETag S3 gives an object made of parts with these MD5s (one part: a plain PUT)."""
    if len(md5s) <= 1:
        return (md5s[0] if md5s else hashlib.md5(b"", usedforsecurity=False).digest()).hex()
    joined = hashlib.md5(b"".join(md5s), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(md5s)}"


class ObjectStore:
    """One app's bucket. Use as an async context manager (it owns an HTTP connection pool)."""

    def __init__(self, config: UploadConfig, credentials: Credentials | None = None, *,
                 part_size: int = DEFAULT_PART_SIZE, concurrency: int = 4,
                 timeout: float = 60.0) -> None:
        self.config = config
        self.part_size = part_size
        #: Parts in flight at once (memory: this many parts).
        self.concurrency = concurrency
        self._credentials = credentials
        self._timeout = timeout
        self._client: Any = None
        self._exit: contextlib.AsyncExitStack | None = None
        self.endpoint = config.endpoint or "AWS S3"

    async def __aenter__(self) -> ObjectStore:
        session = get_session()
        kwargs: dict[str, Any] = {
            "region_name": self.config.region or os.environ.get("AWS_REGION") or "us-east-1",
            "config": AioConfig(
                s3={"addressing_style": "path"} if self.config.endpoint else {},
                # Content-MD5 is ours; the newer default CRC trailers are not understood by
                # every S3-compatible store.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=5, read_timeout=self._timeout),
        }
        if self.config.endpoint:
            kwargs["endpoint_url"] = self.config.endpoint
        if self._credentials is not None:
            kwargs["aws_access_key_id"] = self._credentials.access_key_id
            kwargs["aws_secret_access_key"] = self._credentials.secret_access_key
        self._exit = contextlib.AsyncExitStack()
        self._client = await self._exit.enter_async_context(session.create_client("s3", **kwargs))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._exit is not None:
            await self._exit.aclose()
        self._client = None

    def url(self, key: str) -> str:
        return f"s3://{self.config.bucket}/{key}"

    async def object_size(self, key: str) -> int:
        """The size of ``key`` (a HEAD); for ranged readers such as the export (issue 15)."""
        try:
            head = await self._client.head_object(Bucket=self.config.bucket, Key=key)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _describe(exc, self.config.bucket, self.endpoint) from exc
        return int(head["ContentLength"])

    async def read_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``offset`` (one ranged GET; fewer at the end)."""
        try:
            answer = await self._client.get_object(
                Bucket=self.config.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
            async with answer["Body"] as body:
                data: bytes = await body.read()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _describe(exc, self.config.bucket, self.endpoint) from exc
        return data

    async def put_file(self, path: Path, key: str, metadata: dict[str, str], *,
                       retry: bool = True) -> Uploaded:
        """Uploads ``path`` to ``key`` and returns only once the store holds exactly it.
        ``retry``: an earlier attempt may have left a multipart upload (ended first)."""
        try:
            return await self._put_file(path, key, metadata, retry)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                raise
            raise _describe(exc, self.config.bucket, self.endpoint) from exc

    async def _put_file(self, path: Path, key: str, metadata: dict[str, str],
                        retry: bool) -> Uploaded:
        # One pass over the file: each part is read, hashed (its MD5 for the store to check,
        # the whole file's SHA-256 for the event) and sent; up to ``concurrency`` parts at once.
        meta = {k: quote(v, safe="") for k, v in metadata.items()}
        common = {"Bucket": self.config.bucket, "Key": key}
        ctype = content_type(key)
        size = (await asyncio.to_thread(os.stat, path)).st_size
        if size > self.part_size or retry:
            await self._abort_leftovers(key)
        sha = hashlib.sha256()
        if size <= self.part_size:
            body = await asyncio.to_thread(_read_chunk, path, 0, size)
            digest = hashlib.md5(body, usedforsecurity=False).digest()
            sha.update(body)
            await self._client.put_object(**common, Body=body, ContentType=ctype, Metadata=meta,
                                          ContentMD5=base64.b64encode(digest).decode())
            md5s, sent = [digest], len(body)
        else:
            md5s, sent = await self._multipart(path, common, ctype, meta, sha)
        if sent != size:
            raise StoreError("FileChanged", f"{path} changed while it was read")
        etag = expected_etag(md5s)
        await self._verify(key, size, etag)
        return Uploaded(self.url(key), etag, f"sha256:{sha.hexdigest()}", size)

    async def _part(self, common: dict[str, str], upload_id: str, number: int, body: bytes,
                    digest: bytes, slots: asyncio.Semaphore) -> str:
        try:
            answer = await self._client.upload_part(
                **common, UploadId=upload_id, PartNumber=number, Body=body,
                ContentMD5=base64.b64encode(digest).decode())
            return str(answer["ETag"])
        finally:
            slots.release()

    async def _multipart(self, path: Path, common: dict[str, str], ctype: str,
                         meta: dict[str, str], sha: Any) -> tuple[list[bytes], int]:
        created = await self._client.create_multipart_upload(**common, ContentType=ctype,
                                                             Metadata=meta)
        upload_id = created["UploadId"]
        slots = asyncio.Semaphore(self.concurrency)
        tasks: list[asyncio.Task[str]] = []
        md5s: list[bytes] = []
        offset = 0
        try:
            while True:
                await slots.acquire()
                failed = next((t for t in tasks if t.done() and t.exception()), None)
                if failed is not None:
                    slots.release()
                    await failed  # raises its error
                body = await asyncio.to_thread(_read_chunk, path, offset, self.part_size)
                if not body:
                    slots.release()
                    break
                offset += len(body)
                digest = hashlib.md5(body, usedforsecurity=False).digest()
                md5s.append(digest)
                sha.update(body)
                tasks.append(asyncio.create_task(
                    self._part(common, upload_id, len(md5s), body, digest, slots)))
                del body
            etags = await asyncio.gather(*tasks)
            await self._client.complete_multipart_upload(
                **common, UploadId=upload_id, MultipartUpload={"Parts": [
                    {"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]})
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._client.abort_multipart_upload(
                    **common, UploadId=upload_id))
            raise
        return md5s, offset

    async def _abort_leftovers(self, key: str) -> None:
        """Ends multipart uploads a killed process left for this key (never visible objects,
        but they hold space in the store)."""
        try:
            answer = await self._client.list_multipart_uploads(Bucket=self.config.bucket,
                                                               Prefix=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NotImplemented", "501"):
                return
            raise
        for upload in answer.get("Uploads", []):
            if upload.get("Key") == key:
                await self._client.abort_multipart_upload(Bucket=self.config.bucket, Key=key,
                                                          UploadId=upload["UploadId"])

    async def _verify(self, key: str, size: int, etag: str) -> None:
        head = await self._client.head_object(Bucket=self.config.bucket, Key=key)
        got_size = int(head.get("ContentLength", -1))
        got_etag = str(head.get("ETag", "")).strip('"')
        if got_size != size or got_etag != etag:
            raise StoreError("VerifyFailed", f"the store holds {got_size} bytes with ETag "
                             f"{got_etag!r} under {key!r}; sent {size} bytes, ETag {etag!r}")

    async def check(self) -> None:
        """Raises StoreError when the bucket cannot be reached with these credentials."""
        try:
            await self._client.head_bucket(Bucket=self.config.bucket)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _describe(exc, self.config.bucket, self.endpoint) from exc
