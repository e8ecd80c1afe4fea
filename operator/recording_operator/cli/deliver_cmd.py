"""``recording-operator deliver``: upload finished files, send signed events, apply retention.

Runs next to the recordings volume (a Deployment in a cluster, a process of the embedded mode),
for every app of the config that has an ``upload``, ``events`` or ``retention`` block. It needs
no recorder and no operator to be running: it works from the files and the info XML.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ENV_CONFIG = "RECORDING_OPERATOR_CONFIG"
#: The secret of --extra-receiver, from the environment (never on the command line).
ENV_EXTRA_SECRET = "RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET"  # noqa: S105 - a variable's name


def _seconds(text: str) -> float:
    from ..model.delivery import parse_duration

    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _app_root(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or name.count("/") != 1 or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not VHOST/APP=DIR")
    return name, Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=os.environ.get(ENV_CONFIG),
                        help=f"the vhost/app config file (YAML; default ${ENV_CONFIG})")
    parser.add_argument("--storage-root", type=Path, default=Path("/recordings"),
                        help="where the recordings volume is mounted; an app's files are under "
                        "its subPath (default /recordings)")
    parser.add_argument("--app-root", type=_app_root, action="append", default=[],
                        metavar="VHOST/APP=DIR", help="an app's directory (repeatable; default: "
                        "its hostPath, else the storage root joined with its subPath)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the journal's directory (default STORAGE_ROOT/.delivery: on the "
                        "volume, so it lives as long as the files)")
    parser.add_argument("--kubeconfig", help="kubeconfig (default $KUBECONFIG, else in-cluster)")
    parser.add_argument("--no-kube", action="store_true",
                        help="no Kubernetes API: no Events, status or Secrets (files still go)")
    parser.add_argument("--bind-address", default="0.0.0.0",
                        help="address of the metrics endpoint (default 0.0.0.0)")
    parser.add_argument("--metrics-port", type=int, default=9090,
                        help="port of GET /metrics (default 9090; 0: off)")
    parser.add_argument("--extra-receiver", metavar="URL",
                        help="also send every app's events here, signed with the secret in "
                        f"${ENV_EXTRA_SECRET} (e.g. a recordings catalogue)")
    timing = parser.add_argument_group("timing")
    timing.add_argument("--poll-interval", type=_seconds, default=0.5, metavar="SECONDS",
                        help="how often the info XML files are looked at (default 0.5)")
    timing.add_argument("--upload-max-delay", type=_seconds, default=30.0, metavar="SECONDS",
                        help="longest wait between upload attempts; doubles from 1 s (default 30)")
    timing.add_argument("--event-retry-for", type=_seconds, default=24 * 3600.0,
                        metavar="DURATION", help="how long an event is retried (default 24h)")
    timing.add_argument("--event-max-delay", type=_seconds, default=300.0, metavar="SECONDS",
                        help="longest wait between attempts of one event (default 300)")
    timing.add_argument("--retention-interval", type=_seconds, default=10.0, metavar="SECONDS",
                        help="how often retention runs (default 10)")
    timing.add_argument("--kube-interval", type=_seconds, default=2.0, metavar="SECONDS",
                        help="how often Recordings are read and their status written (default 2)")
    parser.add_argument("--part-size", type=int, default=None, metavar="BYTES",
                        help="multipart part size (default 8 MiB; at least 5 MiB on AWS)")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from ..delivery.objectstore import DEFAULT_PART_SIZE
    from ..delivery.service import DeliveryService, DeliverySettings, Receiver
    from ..delivery.targets import app_targets
    from ..model.config import ConfigError, load_config

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "aiobotocore", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not args.config:
        print(f"recording-operator deliver: --config (or ${ENV_CONFIG}) is required",
              file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"recording-operator deliver: {exc}", file=sys.stderr)
        return 1
    extra: tuple[Receiver, ...] = ()
    if args.extra_receiver:
        secret = os.environ.get(ENV_EXTRA_SECRET, "")
        if not secret:
            print(f"recording-operator deliver: --extra-receiver needs ${ENV_EXTRA_SECRET}",
                  file=sys.stderr)
            return 2
        extra = (Receiver(args.extra_receiver, secret),)
    targets = [t for t in app_targets(config, args.storage_root, dict(args.app_root))
               if t.active or extra]
    if not targets:
        logging.getLogger(__name__).warning("no app has upload, events or retention: idle")
    settings = DeliverySettings(
        state_dir=args.state_dir or args.storage_root / ".delivery",
        poll_interval=args.poll_interval, upload_max_delay=args.upload_max_delay,
        event_retry_for=args.event_retry_for, event_max_delay=args.event_max_delay,
        retention_interval=args.retention_interval, kube_interval=args.kube_interval,
        part_size=args.part_size or DEFAULT_PART_SIZE, extra_receivers=extra)

    async def main() -> None:
        recordings = None
        if not args.no_kube:
            from ..delivery.recordings import Recordings
            from ..kube.target import KubeTarget

            recordings = await Recordings.open(KubeTarget(kubeconfig=args.kubeconfig))
        service = DeliveryService(targets, settings, recordings)
        if args.metrics_port:
            from prometheus_client import start_http_server

            from ..delivery import metrics

            metrics.watch_journal(service.journal.path)
            start_http_server(args.metrics_port, args.bind_address, registry=metrics.REGISTRY)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await service.run(stop)
        finally:
            if recordings is not None:
                await recordings.close()

    asyncio.run(main())
    return 0
