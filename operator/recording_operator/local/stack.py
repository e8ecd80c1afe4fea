"""The embedded mode: the whole system on one machine, with no cluster.

A real local control plane, the operator and the API exactly as they run in a cluster (separate
processes, each under its own ServiceAccount and RBAC), the local pod runner (a virtual kubelet)
that runs recorder pods as local processes, a local RTMP server, and a demo publisher. The
end-to-end tests drive this same stack.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..api.settings import (
    CATALOGUE_SECRET_ENV,
    CATALOGUE_URL_ENV,
    DEFAULT_PORT,
    STORAGE_ROOT_ENV,
    TOKEN_ENV,
)
from ..model.config import Config, default_config, load_config
from ..model.resource import STORAGE_ROOT
from . import policy as recorder_policy
from . import reaper
from .controlplane import ControlPlane, ControlPlaneError
from .delivery import (
    S3_BUCKET,
    delivery_command,
    delivery_rules,
    needs_delivery,
    upload_to_local_store,
)
from .kubelet.settings import KubeletSettings
from .kubelet.thread import KubeletThread
from .leftovers import (
    REAPER_MARK,
    command_line,
    end,
    mark,
    marked,
    port_holder,
    remove_pid_file,
    running_owner,
    write_pid_file,
)
from .mediaserver import MediaServer
from .prerequisites import check
from .publisher import Publisher
from .s3server import S3Server
from .supervisor import ProcessUnit, Supervisor
from .units import ControlPlaneUnit, KubeletUnit, MediaUnit, PublisherUnit

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "ome-access-token"  # noqa: S105 - OME's documented default, local use only
SYSTEM_NAMESPACE = "recording-operator-system"
DEMO_APP = "app"
DEMO_STREAM = "stream"
DEMO_VHOST = "default"
#: Without a config file: every stream published as auto<anything> is recorded by this rule
#: (OME's StreamMap) from its publish to its end.
DEMO_RULE = {"streamName": "auto*", "interval": 60000,
             "filePath": "auto/${Stream}/${StartTime:YYYYMMDDhhmmss}_${Sequence}.ts",
             "infoPath": "auto/${Stream}/info.xml"}
#: Seconds the stack's processes get between SIGTERM and SIGKILL when ``dev`` died without
#: stopping them (or an earlier run left them).
REAPER_GRACE = 5.0
KUBELET_LOGGER = "recording_operator.local.kubelet"


class StackError(RuntimeError):
    pass


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    access_token: str = DEFAULT_TOKEN
    data_dir: Path = Path("data")
    config: Path | None = None
    demo: bool = True
    rtmp_port: int = 1935
    #: Extra flags for `recording-operator run` (tests shorten its waits).
    operator_args: list[str] = field(default_factory=list)
    log_level: str = "info"
    #: Start a local S3 store and upload every app's files to it (``dev --s3``).
    s3: bool = False
    #: (URL, secret): one more receiver of every app's signed events (e.g. a catalogue).
    event_receiver: tuple[str, str] | None = None
    #: Apps whose publishes nginx-rtmp reports to the API (on_publish), which wakes their
    #: waiting tasks and starts their StreamMap rules; None: every app. The others rely on
    #: polling alone (the benchmark compares the two).
    notify_apps: frozenset[str] | None = None


def _rbac() -> dict[str, list[dict[str, Any]]]:
    from .binaries import checkout_root

    root = checkout_root()
    candidates = []
    if root is not None:
        candidates.append(root / "charts" / "recording-operator" / "files" / "rbac.yaml")
    candidates.append(Path(__file__).resolve().parent.parent / "data" / "rbac.yaml")
    for path in candidates:
        if path.is_file():
            rules: dict[str, list[dict[str, Any]]] = yaml.safe_load(path.read_text())
            return rules
    raise StackError("cannot find the RBAC rules (charts/recording-operator/files/rbac.yaml)")


def _own_command() -> list[str]:
    """How to run this installation's ``recording-operator`` from a child process."""
    script = Path(sys.executable).parent / "recording-operator"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "recording_operator.cli.main"]


class EmbeddedStack:
    """Start with :meth:`start`; :meth:`stop` ends everything in order, finishing files first.

    While it runs, a :class:`Supervisor` restarts whatever exits (see :mod:`.supervisor`), and
    a reaper process ends every process of the stack if the process holding it dies without
    stopping it (see :mod:`.reaper`). ``report`` receives the supervisor's messages.
    """

    def __init__(self, options: StackOptions,
                 report: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.recordings_dir = self.data_dir / "recordings"
        self.logs_dir = self.data_dir / "logs"
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.controlplane: ControlPlane | None = None
        self.publisher: Publisher | None = None
        self.config: Config | None = None
        #: Set (with the reason) when a part of the stack cannot be kept running: the caller
        #: should then stop the stack.
        self.failed = threading.Event()
        self.supervisor = Supervisor(report or _step, self._fatal)
        self.mark = mark(self.data_dir)
        self._media: MediaUnit | None = None
        self._kubelet: KubeletUnit | None = None
        self.s3: S3Server | None = None
        #: Processes of our own (operator, API, ...), in start order; stopped in reverse.
        self._processes: dict[str, ProcessUnit] = {}
        self._reaper: subprocess.Popen[bytes] | None = None
        self._log_handler: logging.Handler | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}/v1"

    @property
    def media(self) -> MediaServer | None:
        """The media server running now (a restart makes a new one, on the same ports)."""
        return None if self._media is None else self._media.server

    @property
    def kubelet(self) -> KubeletThread | None:
        return None if self._kubelet is None else self._kubelet.thread

    @property
    def operator(self) -> subprocess.Popen[bytes] | None:
        unit = self._processes.get("operator")
        return None if unit is None else unit.process

    @property
    def api(self) -> subprocess.Popen[bytes] | None:
        unit = self._processes.get("api")
        return None if unit is None else unit.process

    def process(self, name: str) -> ProcessUnit:
        """One of the stack's own processes by name (``operator``, ``api``)."""
        return self._processes[name]

    # -- start -------------------------------------------------------------------------------

    def start(self) -> EmbeddedStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        if not opts.access_token:
            raise StackError("the access token must not be empty")
        prerequisites = check()
        for directory in (self.data_dir, self.recordings_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._clear_leftovers()
        _ensure_port_free(opts.host, opts.port, "the API (--port)")
        _ensure_port_free("127.0.0.1", opts.rtmp_port, "the RTMP server (--rtmp-port)")
        write_pid_file(self.data_dir)
        self._reaper = reaper.spawn(self.data_dir, REAPER_GRACE, self.logs_dir / "reaper.log")
        self._log_handler = _log_to(self.logs_dir / "pod-runner.log")

        _step("starting the local Kubernetes control plane")
        self.controlplane = cp = ControlPlane.start(
            self.data_dir / "controlplane", bin_dir=Path(prerequisites.controlplane_bin),
            env=self.mark)
        for process in cp.processes:
            self.supervisor.add(ControlPlaneUnit(process), critical=True)
        cp.apply_crds()
        shutil.copyfile(cp.admin_kubeconfig, self.kubeconfig)
        self.kubeconfig.chmod(0o600)

        _step(f"starting the RTMP server on rtmp://127.0.0.1:{opts.rtmp_port}")
        if opts.s3:
            _step("starting the local S3 store (versitygw)")
            self.s3 = S3Server.launch(self.data_dir / "s3", buckets=(S3_BUCKET,))
        self.config = config = self._config()
        apps = sorted({app for vhost in config.vhosts.values() for app in vhost.apps})
        self._media = media = MediaUnit(lambda: MediaServer.start(
            apps=apps, rtmp_port=opts.rtmp_port,
            http_port=self.media.http_port if self.media is not None else None,
            workdir=self.data_dir / "mediaserver", env=self.mark,
            notify=self._notify_urls(config, apps)))
        media.start()
        self.supervisor.add(media)
        config_path = self.data_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(config.model_dump(mode="json", by_alias=True,
                                                                exclude_none=True)))

        _step("creating service accounts and RBAC for the operator, the API and recorders")
        rules = _rbac()
        namespaces = config.namespaces()
        for namespace in namespaces:
            cp.create_namespace(namespace)
            cp.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
                "name": config.recorder.service_account_name, "namespace": namespace}})
            cp.grant(namespace, config.recorder.service_account_name, rules["recorder"])
        # As the chart does: a recorder pod may write only its own Recording's status.
        recorder_policy.apply(cp, "recording-operator-recorder",
                              config.recorder.service_account_name, namespaces)
        operator_kc = self._account("operator", rules["operator"], namespaces)
        api_kc = self._account("api", rules["api"], namespaces)
        kubelet_kc = cp.service_account_kubeconfig(
            SYSTEM_NAMESPACE, "local-kubelet", rules["kubelet"], cluster_wide=True,
            path=self.data_dir / "kubelet.kubeconfig")

        _step("starting the local pod runner (virtual kubelet)")
        self._kubelet = KubeletUnit(lambda: KubeletThread(
            kubelet_kc, self.data_dir / "kubelet", node_name="local",
            settings=KubeletSettings(base_env={"PYTHONUNBUFFERED": "1", **self.mark}),
        ), self.logs_dir / "pod-runner.log")
        self._kubelet.start()
        self.supervisor.add(self._kubelet)

        _step("starting the operator")
        command = _own_command()
        ns_flags = [f"--namespace={ns}" for ns in namespaces]
        self._run("operator", [
            *command, "run", f"--config={config_path}", f"--kubeconfig={operator_kc}",
            *ns_flags, "--bind-address=127.0.0.1", "--liveness-port=0", "--metrics-port=0",
            # Here a pod stays Pending only while the machine is full (the pod runner admits
            # what fits): it waits for room instead of ending its Recording in error.
            "--pod-start-timeout=0",
            "--log-format=plain", *opts.operator_args], grace=15)

        # The recordings catalogue: SQLite in the data directory (unless the config names a
        # database), fed by the delivery's events signed with a secret made for this run.
        catalogue_secret = secrets.token_urlsafe(32)
        api_env = {TOKEN_ENV: opts.access_token, CATALOGUE_SECRET_ENV: catalogue_secret,
                   # exports and downloads read the recordings where the recorders wrote them
                   STORAGE_ROOT_ENV: str(self.recordings_dir)}
        if not config.catalogue.url:
            api_env[CATALOGUE_URL_ENV] = f"sqlite:///{self.data_dir / 'catalogue.db'}"
        receiver = opts.event_receiver or (f"{self.api_url}/catalogue/events", catalogue_secret)
        if opts.event_receiver:
            _step("the catalogue is not fed: the one extra event receiver is --event-receiver")
        _step(f"starting the API on {self.api_url}")
        self._run("api", [
            *command, "api", f"--host={opts.host}", f"--port={opts.port}",
            f"--config={config_path}", f"--kubeconfig={api_kc}",
            # The embedded mode: any token the user picks (--access-token), on loopback.
            "--allow-short-token",
            f"--log-level={'warning' if opts.log_level == 'info' else opts.log_level}"],
            api_env)
        self._wait_api()
        if needs_delivery(config, receiver):
            _step("starting delivery (uploads, signed events, retention)")
            delivery_kc = self._account("delivery", delivery_rules(rules["delivery"], config),
                                        namespaces)
            self._run("delivery", *delivery_command(
                command, config_path, delivery_kc, self.data_dir, self.recordings_dir,
                receiver, self.s3), grace=15)

        if opts.demo:
            _step(f"publishing the demo stream to rtmp://127.0.0.1:{opts.rtmp_port}/"
                  f"{DEMO_APP}/{DEMO_STREAM}")
            self.publisher = Publisher.test_pattern(
                media.server.rtmp_url(DEMO_APP, DEMO_STREAM) if media.server else "",
                size="640x360")
            self.publisher.env = dict(self.mark)
            demo = PublisherUnit(self.publisher)
            demo.start()
            self.supervisor.add(demo)
            if media.server is not None:
                media.server.wait_live(DEMO_APP, DEMO_STREAM, timeout=20)
        self.supervisor.start()

    def _run(self, name: str, argv: list[str], env: dict[str, str] | None = None, *,
             grace: float = 10.0) -> ProcessUnit:
        """Starts one of the stack's own processes, logging to ``logs/<name>.log``, and puts it
        under supervision; it is stopped (in reverse start order) before the pod runner."""
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.mark, **(env or {})}
        child_env.pop("KUBECONFIG", None)
        unit = ProcessUnit(name, argv, self.logs_dir / f"{name}.log", child_env, grace)
        unit.start()
        self._processes[name] = unit
        self.supervisor.add(unit)
        return unit

    def restart_operator(self, *, kill: bool = True, timeout: float = 30.0) -> None:
        """Ends the operator (SIGKILL, as a crash would, or SIGTERM) and waits until the
        supervisor has started a new one."""
        self.restart("operator", kill=kill, timeout=timeout)

    def restart(self, name: str, *, kill: bool = True, timeout: float = 30.0) -> None:
        unit = self._processes[name]
        before = self.supervisor.restarts(name)
        if kill:
            unit.kill()
        else:
            unit.stop()
        deadline = time.monotonic() + timeout
        while self.supervisor.restarts(name) == before:
            if time.monotonic() > deadline:
                raise StackError(f"the {name} was not restarted within {timeout:.0f}s")
            time.sleep(0.05)

    def _fatal(self, why: str) -> None:
        self.failed.set()

    def _clear_leftovers(self) -> None:
        """Ends what an earlier run on this data directory left running, or names the ``dev``
        that still runs on it."""
        owner = running_owner(self.data_dir)
        if owner is not None:
            raise StackError(
                f"another recording-operator dev (pid {owner}: {command_line(owner)}) is "
                f"running on {self.data_dir}; stop it first (Ctrl-C in its terminal, or "
                f"kill {owner}), or pass another --data-dir")
        deadline = time.monotonic() + REAPER_GRACE + 5
        while marked(self.data_dir, key=REAPER_MARK) and time.monotonic() < deadline:
            time.sleep(0.1)  # an earlier run's reaper is still ending its processes
        leftovers = marked(self.data_dir)
        if leftovers:
            names = ", ".join(f"{pid} ({command_line(pid)[:60]})" for pid in leftovers[:10])
            _step(f"stopping {len(leftovers)} processes an earlier run on {self.data_dir} "
                  f"left running: {names}")
            end(leftovers, REAPER_GRACE)

    def _notify_urls(self, config: Config, apps: list[str]) -> dict[str, str]:
        """app → the API's nginx-rtmp notification URL (token and vhost in the query: nginx-rtmp
        cannot send headers). An app in several vhosts is reported for the first."""
        opts, urls = self.options, {}
        for app in apps:
            if opts.notify_apps is not None and app not in opts.notify_apps:
                continue
            vhost = next(v for v, vc in sorted(config.vhosts.items()) if app in vc.apps)
            query = urllib.parse.urlencode({"token": opts.access_token, "vhost": vhost})
            urls[app] = f"{self.api_url}/notify/nginx-rtmp?{query}"
        return urls

    def _config(self) -> Config:
        opts = self.options
        source = f"rtmp://127.0.0.1:{opts.rtmp_port}/{{app}}/{{stream}}"
        base = load_config(opts.config) if opts.config else default_config(source)
        data = base.model_dump(mode="json", by_alias=True, exclude_none=True)
        if not opts.config:
            data["vhosts"][DEMO_VHOST]["apps"][DEMO_APP]["streamMap"] = [DEMO_RULE]
        # Recorder pods run here as local processes: this installation's command, and the
        # storage of every app that does not name a hostPath mapped under the data dir.
        data["recorder"]["command"] = [*_own_command(), "record"]
        for vhost_name, vhost in data["vhosts"].items():
            for app_name, app in vhost["apps"].items():
                volume = app.get("storage", {}).get("volume", {})
                if "hostPath" not in volume:
                    target = self.recordings_dir
                    if opts.config:
                        target = self.recordings_dir / vhost_name / app_name
                    target.mkdir(parents=True, exist_ok=True)
                    app.setdefault("storage", {})["volume"] = {
                        "hostPath": {"path": str(target), "type": "DirectoryOrCreate"}}
        if self.s3 is not None:
            upload_to_local_store(data, self.s3)
        from ..model.config import parse_config

        return parse_config(data, "embedded config")

    def _account(self, name: str, rules: list[dict[str, Any]], namespaces: list[str]) -> Path:
        assert self.controlplane is not None
        cp = self.controlplane
        path = cp.service_account_kubeconfig(SYSTEM_NAMESPACE, name, None,
                                             path=self.data_dir / f"{name}.kubeconfig")
        for namespace in namespaces:
            role = f"recording-operator-{name}"
            cp.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                      "metadata": {"name": role, "namespace": namespace}, "rules": rules})
            cp.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                      "metadata": {"name": role, "namespace": namespace},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role},
                      "subjects": [{"kind": "ServiceAccount", "name": name,
                                    "namespace": SYSTEM_NAMESPACE}]})
        return path

    def _wait_api(self, timeout: float = 30.0) -> None:
        token = base64.b64encode(self.options.access_token.encode()).decode()
        request = urllib.request.Request(
            f"{self.api_url}/vhosts/default/apps/app:records", data=b"{}", method="POST",
            headers={"Authorization": f"Basic {token}"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in (("api", self.api), ("operator", self.operator)):
                if process is not None and process.poll() is not None:
                    raise StackError(f"the {name} exited with code {process.returncode}; its "
                                     f"log:\n{_tail(self.logs_dir / f'{name}.log')}")
            with contextlib.suppress(OSError):
                try:
                    with urllib.request.urlopen(request, timeout=2):
                        return
                except urllib.error.HTTPError:
                    return  # it answers (a 404 for a custom config's vhosts is fine)
            time.sleep(0.2)
        raise StackError(f"the API did not answer within {timeout:.0f}s; its log:\n"
                         f"{_tail(self.logs_dir / 'api.log')}")

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """API first (no new tasks), then the operator, then the pod runner (recorders get
        SIGTERM and finish their files while the control plane can still take their status),
        then the media side and the control plane. Safe to call twice."""
        self.supervisor.pause()
        for unit in reversed(list(self._processes.values())):
            unit.stop()
        self._processes.clear()
        if self._kubelet is not None:
            self._kubelet.stop()
            self._kubelet = None
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None
        if self._media is not None:
            self._media.stop()
            self._media = None
        if self.controlplane is not None:
            self.controlplane.stop()
            self.controlplane = None
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        self.supervisor.close()
        if self._log_handler is not None:
            logging.getLogger(KUBELET_LOGGER).removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if self._reaper is not None:
            reaper.dismiss(self._reaper)
            self._reaper = None
            remove_pid_file(self.data_dir)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ensure_port_free(host: str, port: int, what: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            holder = port_holder(port)
            who = (f": process {holder} ({command_line(holder)[:80]}) holds it; stop it "
                   f"(kill {holder}) or pick another port" if holder is not None
                   else "; pick another port")
            raise StackError(f"{what}: {host}:{port} is in use ({exc.strerror}){who}") from None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _log_to(path: Path) -> logging.Handler:
    """The pod runner runs in this process: its log goes to a file of its own too."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger(KUBELET_LOGGER)
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


__all__ = ["STORAGE_ROOT", "ControlPlaneError", "EmbeddedStack", "StackError", "StackOptions"]
