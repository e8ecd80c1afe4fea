"""A real local media server: nginx with the RTMP module (Debian's ``libnginx-mod-rtmp``).

Publishers (OBS, ffmpeg) push to ``rtmp://127.0.0.1:<port>/<app>/<stream>``; recorders pull the
same URL, or the HLS rendition at ``http://127.0.0.1:<http port>/hls/<app>/<stream>.m3u8``. The
server runs as one foreground process with its configuration, logs, pid file and HLS fragments
in a private directory, so any number can run side by side without root.

Used by the tests and by the embedded mode (``recording-operator dev``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ..ports import free_port

#: Where distributions put the dynamic RTMP module.
_MODULE_PATHS = (
    "/usr/lib/nginx/modules/ngx_rtmp_module.so",
    "/usr/lib64/nginx/modules/ngx_rtmp_module.so",
    "/usr/local/lib/nginx/modules/ngx_rtmp_module.so",
    "/usr/share/nginx/modules/ngx_rtmp_module.so",
)
INSTALL_HINT = (
    "install nginx with the RTMP module: 'apt-get install nginx-light libnginx-mod-rtmp' on "
    "Debian/Ubuntu (or run tools/system-deps.sh)"
)


class MediaServerError(RuntimeError):
    """The media server cannot be started; the message says what is missing."""


def find_nginx(nginx: str | None = None) -> str:
    found = nginx or os.environ.get("RECORDING_NGINX") or shutil.which("nginx")
    if not found:
        for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx",
                          "/usr/local/nginx/sbin/nginx"):
            if os.access(candidate, os.X_OK):
                found = candidate
                break
    if not found or not os.access(found, os.X_OK):
        raise MediaServerError(f"nginx was not found: {INSTALL_HINT}")
    return found


def find_rtmp_module(nginx: str, module: str | None = None) -> str | None:
    """The module to load, or None when this nginx has RTMP built in."""
    module = module or os.environ.get("RECORDING_NGINX_RTMP_MODULE")
    if module:
        if not os.path.exists(module):
            raise MediaServerError(f"the nginx RTMP module {module} does not exist")
        return module
    version = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False)
    if "rtmp" in (version.stderr + version.stdout):
        return None
    for candidate in _MODULE_PATHS:
        if os.path.exists(candidate):
            return candidate
    raise MediaServerError(f"nginx has no RTMP module: {INSTALL_HINT}")


def _wait_for_port(host: str, port: int, deadline: float, process: subprocess.Popen[bytes]) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


class MediaServer:
    """A running nginx-rtmp; use :meth:`start`, then :meth:`stop` (or ``with``)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        workdir: Path,
        host: str,
        rtmp_port: int,
        http_port: int,
        owns_workdir: bool,
    ) -> None:
        self.process = process
        self.workdir = workdir
        self.host = host
        self.rtmp_port = rtmp_port
        self.http_port = http_port
        self._owns_workdir = owns_workdir

    @classmethod
    def start(
        cls,
        *,
        apps: Sequence[str] = ("app",),
        host: str = "127.0.0.1",
        rtmp_port: int | None = None,
        http_port: int | None = None,
        hls: bool = True,
        hls_fragment_s: float = 1.0,
        workdir: str | Path | None = None,
        nginx: str | None = None,
        module: str | None = None,
        timeout: float = 10.0,
        env: dict[str, str] | None = None,
        notify: Mapping[str, str] | None = None,
    ) -> MediaServer:
        """Starts nginx on ``host`` (loopback by default), on free ports unless given;
        ``env`` is added to its environment.

        ``notify`` maps an app to the URL its publishes and their ends are posted to
        (nginx-rtmp's ``on_publish``/``on_publish_done``: the API's ``/v1/notify/nginx-rtmp``).
        nginx-rtmp refuses a publish whose notification fails, so only apps whose URL answers
        belong there.
        """
        binary = find_nginx(nginx)
        module_path = find_rtmp_module(binary, module)
        owns = workdir is None
        base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mediaserver-"))
        base.mkdir(parents=True, exist_ok=True)
        rtmp_port = rtmp_port or free_port(host)
        http_port = http_port or free_port(host)
        config = base / "nginx.conf"
        config.write_text(
            _config(base, module_path, host, rtmp_port, http_port, apps, hls, hls_fragment_s,
                    notify or {})
        )
        error_log = base / "error.log"
        process = subprocess.Popen(
            [binary, "-p", str(base), "-c", str(config), "-e", str(error_log)],
            env={**os.environ, **env} if env else None,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        server = cls(process, base, host, rtmp_port, http_port, owns)
        deadline = time.monotonic() + timeout
        if not (_wait_for_port(host, rtmp_port, deadline, process)
                and _wait_for_port(host, http_port, deadline, process)):
            log_tail = server.error_log_tail()
            server.stop()
            raise MediaServerError(
                f"nginx did not start listening on {host}:{rtmp_port} (rtmp) and "
                f"{host}:{http_port} (http): {log_tail or 'no error logged'}"
            )
        return server

    def rtmp_url(self, app: str, stream: str) -> str:
        return f"rtmp://{self.host}:{self.rtmp_port}/{app}/{stream}"

    def hls_url(self, app: str, stream: str) -> str:
        return f"http://{self.host}:{self.http_port}/hls/{app}/{stream}.m3u8"

    def source_template(self) -> str:
        """The app source URL template for the vhost/app config."""
        return f"rtmp://{self.host}:{self.rtmp_port}/{{app}}/{{stream}}"

    def live_streams(self, app: str) -> set[str]:
        """Names of the streams being published to ``app`` right now (from the stat page)."""
        url = f"http://{self.host}:{self.http_port}/stat"
        with urllib.request.urlopen(url, timeout=2) as answer:
            root = ET.fromstring(answer.read())  # noqa: S314 - our own server's stat page
        names = set()
        for application in root.iter("application"):
            if application.findtext("name") != app:
                continue
            for stream in application.iter("stream"):
                publishing = stream.find("publishing") is not None
                name = stream.findtext("name")
                if name and publishing:
                    names.add(name)
        return names

    def wait_live(self, app: str, stream: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ET.ParseError):
                if stream in self.live_streams(app):
                    return
            time.sleep(0.1)
        raise TimeoutError(f"stream {app}/{stream} was not published within {timeout} s")

    def wait_hls(self, app: str, stream: str, segments: int = 2, timeout: float = 15.0) -> None:
        """Waits until the HLS playlist lists ``segments`` fragments."""
        playlist = self.workdir / "hls" / app / f"{stream}.m3u8"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if playlist.read_text().count("#EXTINF") >= segments:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"HLS playlist {playlist} not ready within {timeout} s")

    def error_log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.workdir / "error.log").read_text(errors="replace")
        except OSError:
            return ""
        wanted = [line for line in text.splitlines() if "[emerg]" in line or "[alert]" in line
                  or "[error]" in line or "[crit]" in line]
        return " | ".join(wanted[-lines:])

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MediaServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _config(
    base: Path,
    module: str | None,
    host: str,
    rtmp_port: int,
    http_port: int,
    apps: Sequence[str],
    hls: bool,
    hls_fragment_s: float,
    notify: Mapping[str, str],
) -> str:
    tmp = base / "tmp"
    tmp.mkdir(exist_ok=True)
    hls_root = base / "hls"
    applications = []
    for app in apps:
        lines = [
            f"    application {app} {{",
            "      live on;",
            # Playing an unpublished stream fails at once instead of waiting silently, so a
            # recorder sees "absent" and retries.
            "      idle_streams off;",
        ]
        if app in notify:
            lines += [f"      on_publish {notify[app]};", f"      on_publish_done {notify[app]};"]
        if hls:
            (hls_root / app).mkdir(parents=True, exist_ok=True)
            lines += [
                "      hls on;",
                f"      hls_path {hls_root / app};",
                f"      hls_fragment {round(hls_fragment_s * 1000)}ms;",
                f"      hls_playlist_length {round(max(6.0, hls_fragment_s * 6) * 1000)}ms;",
            ]
        lines.append("    }")
        applications.append("\n".join(lines))
    load = f"load_module {module};\n" if module else ""
    return f"""{load}daemon off;
master_process off;
worker_processes 1;
pid {base / "nginx.pid"};
error_log {base / "error.log"} warn;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen {host}:{rtmp_port};
    chunk_size 4096;
{chr(10).join(applications)}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{
    listen {host}:{http_port};
    location /stat {{ rtmp_stat all; }}
    location /hls/ {{
      alias {hls_root}/;
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      add_header Cache-Control no-cache;
    }}
  }}
}}
"""
