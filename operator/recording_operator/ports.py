"""A free loopback TCP port, asked of the kernel.

One definition shared by the local stack (control plane, media server, S3, PostgreSQL), the
recorder's SRT relay and the tests. It imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out on ``host`` (bind to 0, read it back, release it).

    Free when asked; the caller binds it soon after, as every user here does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
