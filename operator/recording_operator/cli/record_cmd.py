"""``recording-operator record``: record one Recording (the process inside a recorder pod).

In a pod everything comes from the environment the operator sets: ``RECORDING_SPEC`` (the
resolved recording, JSON), ``RECORDING_NAMESPACE`` and ``RECORDING_NAME`` (whose status to
report to). The flags exist for running it by hand, e.g. without Kubernetes::

    recording-operator record --spec-file job.json --no-report --storage-root ./recordings

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 the recording failed (the status says why),
2 the input is unusable (bad spec, unknown source scheme).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..model.reporting import FLOOR
    from ..model.resolved import (
        ENV_LOG_LEVEL,
        ENV_NAME,
        ENV_NAMESPACE,
        ENV_REPORT_INTERVAL,
        ENV_SPEC,
        ENV_STORAGE_ROOT,
    )
    from ..recorder.session import RecorderSettings

    parser.add_argument(
        "--spec-file", metavar="PATH",
        help=f"the resolved recording as JSON (default: the {ENV_SPEC} environment variable)",
    )
    parser.add_argument(
        "--namespace", default=None,
        help=f"namespace of the Recording to report to (default: {ENV_NAMESPACE}, else the "
        "spec's recording.namespace)",
    )
    parser.add_argument(
        "--name", default=None,
        help=f"name of the Recording to report to (default: {ENV_NAME}, else the spec's)",
    )
    parser.add_argument(
        "--no-report", action="store_true",
        help="do not report to Kubernetes (record to disk only)",
    )
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig to report with")
    parser.add_argument(
        "--storage-root", default=None,
        help=f"directory the file paths are relative to (default: {ENV_STORAGE_ROOT}, else "
        "the spec's storageRoot, /recordings)",
    )
    parser.add_argument(
        "--source", default=None, help="read this URL instead of the spec's sourceUrl"
    )
    parser.add_argument(
        "--retry-max", type=float, default=RecorderSettings.retry_max, metavar="SECONDS",
        help="longest wait between attempts to open an absent stream (default %(default)s)",
    )
    parser.add_argument(
        "--report-interval", type=float, default=None, metavar="SECONDS",
        help="how often progress is reported while recording (default $"
        f"{ENV_REPORT_INTERVAL}, which the operator sets, else {FLOOR:g})",
    )
    parser.add_argument("--log-level", default=os.environ.get(ENV_LOG_LEVEL) or "INFO",
                        help=f"default ${ENV_LOG_LEVEL}, else %(default)s")


def _fail(message: str) -> int:
    print(f"recording-operator record: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import dataclasses

    from ..model.reporting import FLOOR
    from ..model.resolved import ENV_SPEC, RecorderEnvironment, ResolvedRecording, SpecError
    from ..recorder.errors import SourceRefused
    from ..recorder.main import Reporting, job_problem
    from ..recorder.main import run as run_recorder
    from ..recorder.session import RecorderSettings
    from ..recorder.source import check_source

    try:
        environment = RecorderEnvironment.read(os.environ)
    except SpecError as exc:
        return _fail(str(exc))
    if args.report_interval is not None and not args.report_interval > 0:
        return _fail(f"--report-interval must be positive (got {args.report_interval:g})")
    if args.spec_file:
        try:
            with open(args.spec_file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            return _fail(f"cannot read --spec-file {args.spec_file}: {exc.strerror}")
        origin = args.spec_file
    else:
        text = environment.spec or ""
        origin = ENV_SPEC
        if not text.strip():
            return _fail(f"no recording given: set {ENV_SPEC} or pass --spec-file")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(f"{origin} is not valid JSON: {exc}")
    try:
        job = ResolvedRecording.from_env(text)
    except SpecError as exc:
        return _fail(f"{origin} is not a usable recording: {exc}")
    if args.source:
        job = dataclasses.replace(job, source_url=args.source)
    try:
        check_source(job.source_url)
    except SourceRefused as exc:
        return _fail(str(exc))
    problem = job_problem(job)
    if problem:
        return _fail(problem)

    reporting = None
    if not args.no_report:
        from ..kube.target import KubeTarget

        reporting = Reporting(
            namespace=args.namespace or environment.namespace or job.recording.namespace,
            name=args.name or environment.name or job.recording.name,
            target=KubeTarget(kubeconfig=args.kubeconfig) if args.kubeconfig else None,
            interval=args.report_interval or environment.report_interval or FLOOR,
            pod_uid=environment.pod_uid,
        )
    storage_root = args.storage_root or environment.storage_root
    settings = RecorderSettings(retry_max=max(0.1, args.retry_max))
    return run_recorder(job, reporting=reporting, settings=settings, storage_root=storage_root)
