"""A real S3-compatible store on loopback (versitygw, its POSIX backend) for the tests, the
benchmarks and ``recording-operator dev --s3``.

Started the way the local control plane is: a binary built once from its Go module
(``tools/s3/build.sh``, cached in ``~/.cache/recording-operator/s3/``), a process that dies with
its parent, a port checked before use and a readiness wait with a deadline. Buckets are
directories under ``data_dir``; the objects are plain files, so a test can also look at them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ports import free_port
from .binaries import cache_root, checkout_root
from .lifetime import die_with_parent

ENV_BIN = "RECORDING_OPERATOR_S3_BIN"
VERSION = "v1.8.0"
HEALTH = "/healthz"


class S3ServerError(RuntimeError):
    """The local store could not be built or started; the message says why."""


def find_binary(build_if_missing: bool = True) -> Path:
    """The versitygw binary: $RECORDING_OPERATOR_S3_BIN, else built from a checkout, else the
    newest cached build."""
    explicit = os.environ.get(ENV_BIN)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise S3ServerError(f"{ENV_BIN}={explicit} is not an executable")
        return Path(explicit)
    root = checkout_root()
    if root is not None and build_if_missing and (root / "tools" / "s3" / "build.sh").is_file():
        result = subprocess.run(["bash", str(root / "tools" / "s3" / "build.sh")],
                                stdout=subprocess.PIPE, text=True, check=False)
        if result.returncode != 0:
            raise S3ServerError("building the local S3 server failed; the Go errors are above. "
                                f"Re-run with: bash {root / 'tools' / 's3' / 'build.sh'}")
        return Path(result.stdout.strip().splitlines()[-1])
    built = sorted(cache_root().glob(f"s3/versitygw-{VERSION}_*/versitygw"),
                   key=lambda p: p.stat().st_mtime)
    if built:
        return built[-1]
    raise S3ServerError("the local S3 server is not built: run `make s3` in a recording-operator "
                        f"checkout (needs Go), or set {ENV_BIN}")


@dataclass
class S3Server:
    """A running store. ``stop()`` ends it; ``start()`` again brings it back on the same port
    with the same data (a store that was down and returned)."""

    data_dir: Path
    port: int
    access_key: str
    secret_key: str
    binary: Path
    log: Path
    region: str = "us-east-1"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def launch(cls, workdir: Path, *, port: int | None = None,
               buckets: tuple[str, ...] = ()) -> S3Server:
        workdir.mkdir(parents=True, exist_ok=True)
        server = cls(data_dir=workdir / "data", port=port or free_port(),
                     access_key="local" + secrets.token_hex(6),
                     secret_key=secrets.token_urlsafe(24), binary=find_binary(),
                     log=workdir / "versitygw.log")
        server.data_dir.mkdir(exist_ok=True)
        server.start()
        for bucket in buckets:
            server.create_bucket(bucket)
        return server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        out = self.log.open("ab")
        env = {**os.environ, "ROOT_ACCESS_KEY_ID": self.access_key,
               "ROOT_SECRET_ACCESS_KEY": self.secret_key}
        self._process = subprocess.Popen(
            [str(self.binary), "--port", f"127.0.0.1:{self.port}", "--region", self.region,
             "--health", HEALTH, "--quiet", "posix", str(self.data_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            preexec_fn=die_with_parent())
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise S3ServerError(f"versitygw exited with code {self._process.returncode}: "
                                    f"{self._tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError), \
                    urllib.request.urlopen(self.endpoint + HEALTH, timeout=1):
                return
            time.sleep(0.1)
        self.stop()
        raise S3ServerError(f"versitygw did not answer within {timeout:.0f}s: {self._tail()}")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])
        except OSError:
            return "(no log)"

    def client(self) -> Any:
        """A plain (blocking) botocore S3 client with the root credentials, for set-up and
        checks; delivery itself uses its own asyncio client."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
