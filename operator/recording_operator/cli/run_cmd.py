"""``recording-operator run``: the kopf operator that turns Recordings into recorder pods."""

from __future__ import annotations

import argparse
import os
import sys

ENV_CONFIG = "RECORDING_OPERATOR_CONFIG"


def _port(text: str) -> int | None:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 turns the endpoint off)")
    return value or None


def _non_negative(text: str) -> float:
    """A flag's number of seconds (or of writes per second): 0 or more."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..controller.failures import Backoff
    from ..controller.settings import OperatorSettings as Defaults

    parser.add_argument(
        "--config",
        default=os.environ.get(ENV_CONFIG),
        help=f"the vhost/app config file (YAML; default ${ENV_CONFIG}, else vhost 'default' "
        "with app 'app')",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace", "-n", action="append", default=[], metavar="NS",
        help="watch this namespace (repeatable; default: the namespaces the config names)",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true",
        help="watch every namespace (needs the cluster-wide RBAC)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig (default $KUBECONFIG, else in-cluster)")
    parser.add_argument("--kube-url", help="Kubernetes API URL, e.g. of a local control plane")
    parser.add_argument(
        "--peering", metavar="NAME",
        help="run with kopf peering NAME so several replicas take turns (needs kopf's peering "
        "CRDs and rights, not in the chart); default: standalone, one replica",
    )
    parser.add_argument("--bind-address", default=Defaults.bind_address,
                        help="address of the liveness and metrics endpoints (default %(default)s)")
    parser.add_argument("--liveness-port", type=_port, default=Defaults.liveness_port,
                        help="port of GET /healthz (default %(default)s; 0: off)")
    parser.add_argument("--metrics-port", type=_port, default=Defaults.metrics_port,
                        help="port of GET /metrics (default %(default)s; 0: off)")
    timing = parser.add_argument_group("timing")
    timing.add_argument(
        "--stop-timeout", type=_non_negative, default=None, metavar="SECONDS",
        help="force-delete a recorder pod that has not stopped after this long "
        "(default: its termination grace period + 30 s)",
    )
    timing.add_argument("--stop-poll", type=_non_negative, default=Defaults.stop_poll,
                        metavar="SECONDS",
                        help="longest interval between checks of a stopping Recording; they start "
                        "at 0.25 s and double up to this (default %(default)s)")
    timing.add_argument("--restart-backoff", type=_non_negative, default=Backoff.initial,
                        metavar="SECONDS",
                        help="first delay before replacing a failed pod; doubles "
                        "(default %(default)s)")
    timing.add_argument("--restart-backoff-max", type=_non_negative, default=Backoff.maximum,
                        metavar="SECONDS",
                        help="longest delay before replacing a failed pod (default %(default)s)")
    timing.add_argument("--failure-limit", type=int, default=Backoff.limit, metavar="N",
                        help="this many pod failures within the window: state error "
                        "(default %(default)s)")
    timing.add_argument("--failure-window", type=_non_negative, default=Backoff.window,
                        metavar="SECONDS",
                        help="the window for --failure-limit (default %(default)s)")
    timing.add_argument("--retry-delay", type=_non_negative, default=Defaults.retry_delay,
                        metavar="SECONDS",
                        help="retry delay after a transient API error (default %(default)s)")
    timing.add_argument("--pod-start-timeout", type=_non_negative,
                        default=Defaults.pod_start_timeout,
                        metavar="SECONDS",
                        help="a recorder pod not running this long after its creation (stuck "
                        "Pending, ImagePullBackOff, CreateContainerConfigError...) ends its "
                        "Recording in state error (default %(default)s; 0: wait forever)")
    timing.add_argument("--status-writes-per-second", type=_non_negative,
                        default=Defaults.status_writes_per_second, metavar="N",
                        help="progress-only status writes per second shared out among the "
                        "recorders: each new recorder pod reports every (Recordings / N) s, "
                        "5 to 60 s (default %(default)s; 0: every 5 s)")
    parser.add_argument("--log-format", choices=["json", "plain"], default="json",
                        help="json: one object per line (default); plain: for a terminal")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..controller.failures import Backoff
    from ..controller.running import configure_logging, run_operator
    from ..controller.settings import OperatorSettings
    from ..kube.target import KubeTarget
    from ..model.config import ConfigError, default_config, load_config

    try:
        config = load_config(args.config) if args.config else default_config()
    except ConfigError as exc:
        print(f"recording-operator run: {exc}", file=sys.stderr)
        return 2
    if args.failure_limit < 1:
        print("recording-operator run: --failure-limit must be at least 1", file=sys.stderr)
        return 2
    settings = OperatorSettings(
        config=config,
        kube=KubeTarget(url=args.kube_url, kubeconfig=args.kubeconfig),
        namespaces=tuple(args.namespace),
        all_namespaces=args.all_namespaces,
        peering=args.peering,
        liveness_port=args.liveness_port,
        metrics_port=args.metrics_port,
        bind_address=args.bind_address,
        stop_timeout=args.stop_timeout,
        stop_poll=args.stop_poll,
        backoff=Backoff(
            initial=args.restart_backoff,
            maximum=max(args.restart_backoff_max, args.restart_backoff),
            limit=args.failure_limit,
            window=args.failure_window,
        ),
        retry_delay=args.retry_delay,
        pod_start_timeout=args.pod_start_timeout,
        status_writes_per_second=args.status_writes_per_second,
    )
    configure_logging(json_format=args.log_format == "json", verbose=args.verbose)
    try:
        asyncio.run(run_operator(settings))
    except ValueError as exc:
        print(f"recording-operator run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
