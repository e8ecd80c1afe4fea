"""Rewriting container paths into host directories.

A local process shares the host's file system, so a volume cannot appear at its ``mountPath``.
Instead every occurrence of a mount path in the command, the args, literal env values and the
working directory is replaced by the host directory that backs it. Only whole path components
match: ``/tmp`` maps ``/tmp`` and ``/tmp/x`` but leaves ``/var/tmp`` and ``/tmpfoo`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path


class PathMap:
    """Container mount paths to host paths, longest first so nested mounts win."""

    def __init__(self, mounts: Mapping[str, Path]) -> None:
        self.mounts = {_normal(k): v for k, v in mounts.items() if _normal(k) != "/"}
        ordered = sorted(self.mounts, key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"(?<![\w.\-/])(" + "|".join(re.escape(m) for m in ordered) + r")(?![\w.\-])"
            )
            if ordered
            else None
        )

    def rewrite(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: str(self.mounts[m.group(1)]), text)

    def host_path(self, container_path: str) -> Path | None:
        """The host path of a container path under a mount, or None if under none."""
        path = _normal(container_path)
        for mount in sorted(self.mounts, key=len, reverse=True):
            if path == mount:
                return self.mounts[mount]
            if path.startswith(mount + "/"):
                return self.mounts[mount] / path[len(mount) + 1:]
        return None


def _normal(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped or "/"


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known names expand, unknown stay, ``$$`` escapes."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _VAR.sub(one, text)


def safe_join(base: Path, relative: str) -> Path:
    """``base/relative`` that cannot leave ``base`` (item paths and subPaths come from specs)."""
    candidate = (base / relative).resolve()
    root = base.resolve()
    if candidate != root and root not in candidate.parents:
        raise ValueError(f"path {relative!r} leaves {base}")
    return candidate
