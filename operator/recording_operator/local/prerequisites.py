"""What the embedded mode needs on the machine, checked up front.

A missing piece stops ``recording-operator dev`` with a message that names it and the command
that provides it, instead of a traceback from deep inside a component.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from . import binaries
from .mediaserver import MediaServerError, find_nginx, find_rtmp_module


class MissingPrerequisite(RuntimeError):
    pass


@dataclass(frozen=True)
class Prerequisites:
    controlplane_bin: str
    nginx: str
    ffmpeg: str


def check(*, build: bool = True) -> Prerequisites:
    problems = []
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        problems.append("ffmpeg is not installed: run `apt-get install ffmpeg` (or `make run`)")
    nginx = ""
    try:
        nginx = find_nginx()
        find_rtmp_module(nginx)
    except MediaServerError as exc:
        problems.append(str(exc))
    if problems:
        raise MissingPrerequisite("; ".join(problems))
    try:
        controlplane = binaries.find(build_if_missing=build)
    except binaries.BinariesMissing as exc:
        raise MissingPrerequisite(str(exc)) from None
    return Prerequisites(str(controlplane), nginx, ffmpeg or "")
