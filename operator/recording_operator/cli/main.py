"""``recording-operator``: one command, a sub-command per role.

Each role's module is imported only when that role runs, so ``record`` in a recorder pod does not
pay for FastAPI or kopf, and ``api`` does not load FFmpeg's libraries.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

#: sub-command -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
ROLES: dict[str, tuple[str, str]] = {
    "api": ("recording_operator.cli.api_cmd", "serve the OvenMediaEngine-compatible REST API"),
    "run": ("recording_operator.cli.run_cmd", "run the operator (kopf) that reconciles Recordings"),
    "record": ("recording_operator.cli.record_cmd", "record one Recording (inside a recorder pod)"),
    "deliver": (
        "recording_operator.cli.deliver_cmd",
        "upload finished files, send signed events, apply retention",
    ),
    "dev": ("recording_operator.cli.dev_cmd", "run everything locally with a demo stream"),
    "catalogue": (
        "recording_operator.cli.catalogue_cmd",
        "the recordings catalogue: rebuild it from info XML files and the bucket",
    ),
    "controlplane": (
        "recording_operator.cli.controlplane_cmd",
        "build or start the local Kubernetes control plane",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that role's module is imported (a recorder pod must not
    pay, in memory and start-up time, for the modules of the other roles)."""
    parser = argparse.ArgumentParser(
        prog="recording-operator",
        description="Live-stream recording run by Kubernetes.",
    )
    sub = parser.add_subparsers(dest="role", required=True, metavar="COMMAND")
    for role, (module_name, help_text) in ROLES.items():
        role_parser = sub.add_parser(role, help=help_text, description=help_text)
        if only is not None and role != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_arguments(role_parser)
        role_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list[0] if args_list and args_list[0] in ROLES else None)
    args = parser.parse_args(args_list)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "_run", None)
    if run is None:
        parser.error(f"{args.role} is not available in this build")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
