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
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..model.config import Config, default_config, load_config
from ..model.resource import STORAGE_ROOT
from .controlplane import ControlPlane, ControlPlaneError
from .kubelet.settings import KubeletSettings
from .kubelet.thread import KubeletThread
from .mediaserver import MediaServer
from .prerequisites import check
from .publisher import Publisher

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "ome-access-token"  # noqa: S105 - OME's documented default, local use only
SYSTEM_NAMESPACE = "recording-operator-system"
DEMO_APP = "app"
DEMO_STREAM = "stream"


class StackError(RuntimeError):
    pass


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8081
    access_token: str = DEFAULT_TOKEN
    data_dir: Path = Path("data")
    config: Path | None = None
    demo: bool = True
    rtmp_port: int = 1935
    #: Extra flags for `recording-operator run` (tests shorten its waits).
    operator_args: list[str] = field(default_factory=list)
    log_level: str = "info"


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
    """Start with :meth:`start`; :meth:`stop` ends everything in order, finishing files first."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.recordings_dir = self.data_dir / "recordings"
        self.logs_dir = self.data_dir / "logs"
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.controlplane: ControlPlane | None = None
        self.media: MediaServer | None = None
        self.publisher: Publisher | None = None
        self.kubelet: KubeletThread | None = None
        self.operator: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.config: Config | None = None
        self._operator_argv: list[str] = []

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}/v1"

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
        _ensure_port_free(opts.host, opts.port, "the API (--port)")
        _ensure_port_free("127.0.0.1", opts.rtmp_port, "the RTMP server (--rtmp-port)")

        _step("starting the local Kubernetes control plane")
        self.controlplane = cp = ControlPlane.start(
            self.data_dir / "controlplane", bin_dir=Path(prerequisites.controlplane_bin))
        cp.apply_crds()
        shutil.copyfile(cp.admin_kubeconfig, self.kubeconfig)
        self.kubeconfig.chmod(0o600)

        _step(f"starting the RTMP server on rtmp://127.0.0.1:{opts.rtmp_port}")
        self.config = config = self._config()
        apps = sorted({app for vhost in config.vhosts.values() for app in vhost.apps})
        self.media = MediaServer.start(apps=apps, rtmp_port=opts.rtmp_port,
                                       workdir=self.data_dir / "mediaserver")
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
        operator_kc = self._account("operator", rules["operator"], namespaces)
        api_kc = self._account("api", rules["api"], namespaces)
        kubelet_kc = cp.service_account_kubeconfig(
            SYSTEM_NAMESPACE, "local-kubelet", rules["kubelet"], cluster_wide=True,
            path=self.data_dir / "kubelet.kubeconfig")

        _step("starting the local pod runner (virtual kubelet)")
        self.kubelet = KubeletThread(
            kubelet_kc, self.data_dir / "kubelet", node_name="local",
            settings=KubeletSettings(base_env={"PYTHONUNBUFFERED": "1"}),
        ).start()

        _step("starting the operator")
        command = _own_command()
        ns_flags = [f"--namespace={ns}" for ns in namespaces]
        self._operator_argv = [
            *command, "run", f"--config={config_path}", f"--kubeconfig={operator_kc}",
            *ns_flags, "--bind-address=127.0.0.1", "--liveness-port=0", "--metrics-port=0",
            "--log-format=plain", *opts.operator_args]
        self.operator = self._spawn("operator", self._operator_argv)

        _step(f"starting the API on {self.api_url}")
        env = {"RECORDING_OPERATOR_ACCESS_TOKEN": opts.access_token}
        self.api = self._spawn("api", [
            *command, "api", f"--host={opts.host}", f"--port={opts.port}",
            f"--config={config_path}", f"--kubeconfig={api_kc}",
            f"--log-level={'warning' if opts.log_level == 'info' else opts.log_level}"], env)
        self._wait_api()

        if opts.demo:
            _step(f"publishing the demo stream to rtmp://127.0.0.1:{opts.rtmp_port}/"
                  f"{DEMO_APP}/{DEMO_STREAM}")
            self.publisher = Publisher.test_pattern(
                self.media.rtmp_url(DEMO_APP, DEMO_STREAM), size="640x360").start()
            self.media.wait_live(DEMO_APP, DEMO_STREAM, timeout=20)

    def restart_operator(self, *, kill: bool = True) -> None:
        """Ends the operator (SIGKILL: as a crash would) and starts a new one."""
        if self.operator is not None:
            if kill:
                self.operator.kill()
                self.operator.wait(10)
            else:
                _terminate(self.operator, 15)
        self.operator = self._spawn("operator", self._operator_argv)

    def _config(self) -> Config:
        opts = self.options
        source = f"rtmp://127.0.0.1:{opts.rtmp_port}/{{app}}/{{stream}}"
        base = load_config(opts.config) if opts.config else default_config(source)
        data = base.model_dump(mode="json", by_alias=True, exclude_none=True)
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

    def _spawn(self, name: str, argv: list[str],
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = (self.logs_dir / f"{name}.log").open("ab")
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        child_env.pop("KUBECONFIG", None)
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=child_env,
                                   start_new_session=True)
        out.close()
        return process

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
        then the media side and the control plane."""
        if self.api is not None:
            _terminate(self.api, 10)
            self.api = None
        if self.operator is not None:
            _terminate(self.operator, 15)
            self.operator = None
        if self.kubelet is not None:
            self.kubelet.stop(timeout=60)
            self.kubelet = None
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None
        if self.media is not None:
            self.media.stop()
            self.media = None
        if self.controlplane is not None:
            self.controlplane.stop()
            self.controlplane = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _ensure_port_free(host: str, port: int, what: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StackError(f"{what}: {host}:{port} is in use ({exc.strerror}); "
                             "pick another port") from None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


__all__ = ["STORAGE_ROOT", "ControlPlaneError", "EmbeddedStack", "StackError", "StackOptions"]
