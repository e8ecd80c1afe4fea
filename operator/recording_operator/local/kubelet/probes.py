"""Readiness and liveness probes against a local process.

Supported handlers: ``httpGet`` and ``tcpSocket`` (always against 127.0.0.1, the pod's IP here),
and ``exec`` (run with the container's env, path-rewritten like its command). ``grpc`` probes
and ``startupProbe`` are not run: a grpc probe counts as passing, and liveness and readiness
start right away (after their initialDelaySeconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from .paths import PathMap, expand

log = logging.getLogger(__name__)
Obj = dict[str, Any]
HOST = "127.0.0.1"


def _port(value: Any, container: Obj) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"no container port named {value!r}")


async def _http(handler: Obj, container: Obj, limit: float) -> bool:
    port = _port(handler.get("port"), container)
    path = str(handler.get("path") or "/")
    context = None
    if str(handler.get("scheme", "HTTP")).upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # as the kubelet: probes do not verify
    async with asyncio.timeout(limit):
        reader, writer = await asyncio.open_connection(HOST, port, ssl=context)
    try:
        headers = {"Host": f"{HOST}:{port}", "User-Agent": "local-kubelet-probe",
                   "Accept": "*/*", "Connection": "close"}
        for header in handler.get("httpHeaders") or []:
            headers[header["name"]] = header["value"]
        request = f"GET {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(request.encode())
        await writer.drain()
        async with asyncio.timeout(limit):
            line = await reader.readline()
        parts = line.split()
        return len(parts) >= 2 and 200 <= int(parts[1]) < 400
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _tcp(handler: Obj, container: Obj, limit: float) -> bool:
    async with asyncio.timeout(limit):
        _, writer = await asyncio.open_connection(HOST, _port(handler.get("port"), container))
    writer.close()
    return True


async def _exec(handler: Obj, env: Mapping[str, str], paths: PathMap, cwd: Path,
                limit: float) -> bool:
    argv = [paths.rewrite(expand(str(a), env)) for a in handler.get("command") or []]
    if not argv:
        return False
    proc = await asyncio.create_subprocess_exec(
        *argv, env=dict(env), cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    try:
        async with asyncio.timeout(limit):
            return await proc.wait() == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


async def probe_once(probe: Obj, container: Obj, env: Mapping[str, str], paths: PathMap,
                     cwd: Path) -> bool:
    limit = float(probe.get("timeoutSeconds") or 1)
    try:
        if "httpGet" in probe:
            return await _http(probe["httpGet"], container, limit)
        if "tcpSocket" in probe:
            return await _tcp(probe["tcpSocket"], container, limit)
        if "exec" in probe:
            return await _exec(probe["exec"], env, paths, cwd, limit)
    except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
        log.debug("probe failed: %r", exc)
        return False
    return True  # grpc or unknown: not run locally


async def run_probe(probe: Obj, container: Obj, env: Mapping[str, str], paths: PathMap,
                    cwd: Path, on_result: Callable[[bool], Awaitable[None]]) -> None:
    """Probes until cancelled; calls ``on_result`` whenever the thresholded result changes
    (the first result that crosses a threshold included)."""
    await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
    period = max(float(probe.get("periodSeconds") or 10), 0.1)
    need_ok = int(probe.get("successThreshold") or 1)
    need_fail = int(probe.get("failureThreshold") or 3)
    oks = fails = 0
    current: bool | None = None
    while True:
        ok = await probe_once(probe, container, env, paths, cwd)
        oks, fails = (oks + 1, 0) if ok else (0, fails + 1)
        result = current
        if oks >= need_ok:
            result = True
        elif fails >= need_fail:
            result = False
        if result is not None and result != current:
            current = result
            await on_result(result)
        await asyncio.sleep(period)
