"""``recording-operator api``: serve the OvenMediaEngine-compatible recording API."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..api.settings import DEFAULT_PORT, DEFAULT_PREFIX, TOKEN_ENV

    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port (default %(default)s)")
    parser.add_argument(
        "--config",
        help="the vhost/app config file (YAML); default: vhost 'default' with app 'app'",
    )
    parser.add_argument(
        "--access-token-file",
        help="file holding the API access token (a mounted Secret); "
        f"default: ${TOKEN_ENV}",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig to reach Kubernetes (default: in-cluster)")
    parser.add_argument("--kube-url", help="Kubernetes API URL, e.g. of a local control plane")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX,
                        help="path prefix of the API (default %(default)s)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--tls-cert-file",
        help="serve HTTPS with this certificate (PEM, chain included; e.g. a mounted "
        "kubernetes.io/tls Secret's tls.crt); needs --tls-key-file",
    )
    parser.add_argument("--tls-key-file", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--public-openapi",
        action="store_true",
        help="serve /openapi.json without the access token (default: it needs the token)",
    )
    parser.add_argument(
        "--no-consistent-reads",
        action="store_true",
        help="answer records from this replica's watch cache without first checking it has "
        "caught up with the Kubernetes API (faster; another replica's writes may show late)",
    )
    parser.add_argument(
        "--allow-short-token",
        action="store_true",
        help="accept an access token shorter than 16 bytes (the embedded mode on loopback; "
        "never on a network)",
    )


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..api.app import create_app
    from ..api.settings import MIN_TOKEN_BYTES, SettingsError, load_settings

    try:
        tls = _tls_files(args.tls_cert_file, args.tls_key_file)
        settings = load_settings(
            config_path=args.config,
            token_file=args.access_token_file,
            kubeconfig=args.kubeconfig,
            kube_url=args.kube_url,
            prefix=args.prefix,
            min_token_bytes=0 if args.allow_short_token else MIN_TOKEN_BYTES,
            public_openapi=args.public_openapi,
            consistent_reads=not args.no_consistent_reads,
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
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    return 0


def _tls_files(cert: str | None, key: str | None) -> tuple[str, str] | None:
    """Both or neither; each readable, and the pair loadable, before anything starts."""
    import ssl

    from ..api.settings import SettingsError

    if not cert and not key:
        return None
    if not cert or not key:
        raise SettingsError("--tls-cert-file and --tls-key-file go together: give both")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:  # before OSError, of which it is a kind
        raise SettingsError(
            f"the TLS certificate {cert} and key {key} do not load as a pair: {exc.reason}"
        ) from None
    except OSError as exc:
        raise SettingsError(f"cannot read the TLS certificate or key: {exc}") from None
    return cert, key
