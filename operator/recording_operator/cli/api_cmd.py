"""``recording-operator api``: serve the OvenMediaEngine-compatible recording API."""

from __future__ import annotations

import argparse
import sys

DEFAULT_PORT = 8081  # OvenMediaEngine's API port, so existing clients need only a new host


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8081)")
    parser.add_argument(
        "--config",
        help="the vhost/app config file (YAML); default: vhost 'default' with app 'app'",
    )
    parser.add_argument(
        "--access-token-file",
        help="file holding the API access token (a mounted Secret); "
        "default: $RECORDING_OPERATOR_ACCESS_TOKEN",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig to reach Kubernetes (default: in-cluster)")
    parser.add_argument("--kube-url", help="Kubernetes API URL, e.g. of a local control plane")
    parser.add_argument("--prefix", default="/v1", help="path prefix of the API (default /v1)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..api.app import create_app
    from ..api.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            config_path=args.config,
            token_file=args.access_token_file,
            kubeconfig=args.kubeconfig,
            kube_url=args.kube_url,
            prefix=args.prefix,
        )
    except SettingsError as exc:
        print(f"recording-operator api: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=False,
        server_header=False,
    )
    return 0
