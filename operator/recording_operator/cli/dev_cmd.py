"""``recording-operator dev``: the whole system on this machine, recording a demo stream.

The local control plane, the operator, the API, a local pod runner, an RTMP server and a demo
publisher; whatever exits is restarted (see ``local/supervisor.py``), nothing outlives ``dev``
(``local/reaper.py``), and Ctrl-C stops them in order, finishing open files first.
"""

from __future__ import annotations

import argparse
import base64
import shlex
import signal
import sys
import threading
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..api.settings import DEFAULT_PORT
    from ..local.stack import DEFAULT_TOKEN

    parser.add_argument("--host", default="127.0.0.1", help="the API's address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="the API's port (default %(default)s)")
    parser.add_argument("--access-token", default=DEFAULT_TOKEN,
                        help=f"the API's access token (default {DEFAULT_TOKEN!r}: local use only)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="recordings, logs, kubeconfig and the control plane's data "
                        "(default ./data)")
    parser.add_argument("--config", type=Path, default=None,
                        help="a vhost/app config file (default: vhost 'default', app 'app')")
    parser.add_argument("--no-demo", action="store_true",
                        help="do not publish the demo test pattern")
    parser.add_argument("--rtmp-port", type=int, default=1935,
                        help="the local RTMP server's port (default 1935)")
    parser.add_argument("--s3", action="store_true",
                        help="also start a local S3 store (versitygw) and upload every app's "
                        "finished files to it (deleting the local copies once confirmed)")
    parser.add_argument("--event-receiver", metavar="URL",
                        help="send every app's signed events here too, with the secret in "
                        "$RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET")


def _event_receiver(url: str | None) -> tuple[str, str] | None:
    import os

    if url is None:
        return None
    secret = os.environ.get("RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET", "")
    if not secret:
        raise SystemExit("recording-operator dev: --event-receiver needs the receiver's secret "
                         "in $RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET")
    return url, secret


def _curl(url: str, token: str, action: str, body: str) -> str:
    return (f"curl -s -H 'Authorization: Basic {token}' -X POST \\\n"
            f"    {url}/vhosts/default/apps/app:{action} -d {shlex.quote(body)}")


def run(args: argparse.Namespace) -> int:
    from ..local.controlplane import ControlPlaneError
    from ..local.mediaserver import MediaServerError
    from ..local.prerequisites import MissingPrerequisite
    from ..local.s3server import S3ServerError
    from ..local.stack import DEFAULT_TOKEN, EmbeddedStack, StackError, StackOptions
    from ..model.config import ConfigError

    options = StackOptions(host=args.host, port=args.port, access_token=args.access_token,
                           data_dir=args.data_dir, config=args.config, demo=not args.no_demo,
                           rtmp_port=args.rtmp_port, s3=args.s3,
                           event_receiver=_event_receiver(args.event_receiver))
    stack = EmbeddedStack(options)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack.start()
    except (MissingPrerequisite, ControlPlaneError, MediaServerError, StackError,
            ConfigError, S3ServerError) as exc:
        print(f"recording-operator dev: {exc}", file=sys.stderr)
        return 1
    try:
        token = base64.b64encode(args.access_token.encode()).decode()
        url = stack.api_url
        print()
        print(f"recording-operator is up. API: {url}   access token: {args.access_token}")
        if args.access_token == DEFAULT_TOKEN:
            print("  warning: the default token is for local use only; pass --access-token")
        print(f"  recordings are written to {stack.recordings_dir}")
        print(f"  publish your own stream: rtmp://127.0.0.1:{args.rtmp_port}/app/<stream>")
        print(f"  kubectl: export KUBECONFIG={stack.kubeconfig}; kubectl get rec -A")
        print(f"  logs: {stack.logs_dir}")
        if stack.s3 is not None:
            print(f"  S3 store: {stack.s3.endpoint} (access key {stack.s3.access_key}, secret "
                  f"{stack.s3.secret_key}); finished files go to s3://recordings/<vhost>/<app>/, "
                  f"kept as plain files under {stack.s3.data_dir / 'recordings'}")
        print()
        print("Start recording the demo stream, a new file every 10 s:")
        print(_curl(url, token, "startRecord",
                    '{"id": "demo", "stream": {"name": "stream"}, "interval": 10000}'))
        print("See the tasks:")
        print(_curl(url, token, "records", "{}"))
        print("Stop (the current file is finished, then the task leaves the list):")
        print(_curl(url, token, "stopRecord", '{"id": "demo"}'))
        print("Or record by rule (OME's StreamMap): any stream named auto* is recorded from "
              "its publish to its end,")
        print("listed with isConfig true (the demo rule; add your own under streamMap):")
        print(f"  ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine "
              f"-c:v libx264 -g 25 -c:a aac -f flv rtmp://127.0.0.1:{args.rtmp_port}/app/auto1")
        print()
        print("Ctrl-C stops everything, finishing open files first. Whatever exits is "
              "restarted (the status line counts restarts).", flush=True)
        while not stop.wait(0.2) and not stack.failed.is_set():
            pass
        if stack.failed.is_set():
            print(f"\nrecording-operator dev: {stack.supervisor.fatal}; stopping everything",
                  file=sys.stderr, flush=True)
        else:
            print("\nstopping: finishing open files…", flush=True)
    finally:
        stack.stop()
    print("stopped.")
    return 1 if stack.failed.is_set() else 0
