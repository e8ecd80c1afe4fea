"""A one-node Kubernetes cluster on this machine, for running the chart's image under a real
kubelet and container runtime: the local control plane (recording_operator.local.controlplane)
plus kube-scheduler, a second kube-controller-manager for the controllers a node needs
(EndpointSlices for Services, the PersistentVolume binder), a private containerd (its own root,
state and socket) with runc, the kubelet, kube-proxy and CoreDNS.

Networking stays on this machine: pods get addresses on a bridge this launcher creates (CNI
``bridge`` + ``host-local``), kube-proxy routes Service ClusterIPs to them, and CoreDNS answers
cluster names on the bridge's address. The API server listens on loopback only, so pods reach it
through a relay on the bridge address, named as the ``kubernetes`` Service's endpoint.

Images come without a registry: tools/node/images.sh writes OCI archives that are imported
into containerd's ``k8s.io`` namespace; pods use them with ``imagePullPolicy: Never``.

Facts of these machines this relies on (../shared/reference/real-node-facts.md): cgroups v1, so
the kubelet runs with ``failCgroupV1: false`` and the cgroupfs driver; root cannot lower
oom_score_adj, so containerd runs with ``restrict_oom_score_adj``; the CNI plugins are in
/usr/lib/cni. :meth:`Node.stop` leaves no process, mount, network namespace, bridge, iptables
chain or cgroup behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).parent / "kubectl")
CNI_BIN = Path("/usr/lib/cni")
#: The node's bridge, pod network and its gateway (the node's own address on the bridge).
BRIDGE = "ro-node0"
POD_CIDR = "10.244.91.0/24"
GATEWAY = "10.244.91.1"
NODE_NAME = "recording-node"
CLUSTER_DOMAIN = "cluster.local"
SYSCTL = Path("/proc/sys")
#: Kernel settings the node changes (forwarding; the kubelet's and kube-proxy's defaults),
#: restored when it stops.
SYSCTLS = ("net/ipv4/ip_forward", "vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic",
           "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
           "net/bridge/bridge-nf-call-iptables", "net/ipv4/conf/all/route_localnet",
           "net/netfilter/nf_conntrack_max")
#: What the node's tools need on this machine: Debian packages (tools/system-deps.sh).
COMMANDS = ("containerd", "runc", "ctr", "buildah", "debootstrap", "iptables", "ip", "gcc", "go")


class NodeError(RuntimeError):
    """The node could not start; the message says which part and shows its log."""


def unavailable() -> str | None:
    """Why this machine cannot run the node (one line), or None when it can."""
    if os.uname().sysname != "Linux":
        return "a real node needs Linux"
    if os.geteuid() != 0:
        return "a real node needs root (containerd, the kubelet's mounts and cgroups)"
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (make system-deps installs them)"
    if not (CNI_BIN / "bridge").exists():
        return "the CNI plugins are not in /usr/lib/cni (Debian's containernetworking-plugins)"
    if not Path("/sys/fs/cgroup/memory").is_dir() and not Path(
            "/sys/fs/cgroup/cgroup.controllers").exists():
        return "no memory cgroup controller"
    return None


def _script(name: str) -> Path:
    """Runs tools/node/<name> (a no-op when its output is cached); the path it prints last."""
    done = subprocess.run(["bash", str(ROOT / "tools" / "node" / name)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise NodeError(f"tools/node/{name} failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def binaries() -> Path:
    """The node's binaries; $RECORDING_OPERATOR_NODE_BIN_DIR names a directory of them."""
    explicit = os.environ.get("RECORDING_OPERATOR_NODE_BIN_DIR")
    return Path(explicit) if explicit else _script("build.sh")


def images() -> dict[str, tuple[Path, str]]:
    """Role (pause, app, media) -> (OCI archive, image name)."""
    directory = _script("images.sh")
    found = {}
    for line in (directory / "images.env").read_text().splitlines():
        role, rest = line.split("=", 1)
        archive, name = rest.split()
        found[role] = (Path(archive), name)
    return found


@dataclass
class _Proc:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self, grace: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


class _Relay:
    """TCP relay from the bridge address to the loopback-only API server, so pods reach the
    API server through the ``kubernetes`` Service as on any cluster."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(listen, reuse_port=False)
        self.server.setblocking(False)
        self.port: int = self.server.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.server, selectors.EVENT_READ, None)
        self.running = True
        self.thread = threading.Thread(target=self._run, name="apiserver-relay", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        peers: dict[socket.socket, socket.socket] = {}
        while self.running:
            for key, _ in self.selector.select(0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.server:
                    with contextlib.suppress(OSError):
                        client, _ = self.server.accept()
                        upstream = socket.create_connection(self.target, 5)
                        for one, other in ((client, upstream), (upstream, client)):
                            one.setblocking(False)
                            peers[one] = other
                            self.selector.register(one, selectors.EVENT_READ, None)
                    continue
                peer = peers.get(sock)
                try:
                    data = sock.recv(65536)
                    if data and peer is not None:
                        peer.setblocking(True)
                        peer.sendall(data)
                        peer.setblocking(False)
                        continue
                except OSError:
                    pass
                for one in [s for s in (sock, peer) if s is not None]:
                    if one in peers:
                        self.selector.unregister(one)
                        peers.pop(one, None)
                        one.close()
        for one in list(peers):
            one.close()
        self.server.close()

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)


def _run(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and done.returncode != 0:
        raise NodeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)
    return path


def _http_ok(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
        return bool(answer.status == 200)
    return False


@dataclass
class Node:
    """A running one-node cluster; :meth:`start` makes one, :meth:`stop` ends it."""

    workdir: Path
    plane: ControlPlane
    bin_dir: Path
    kubeconfig: Path
    volume_dir: Path
    _procs: list[_Proc] = field(default_factory=list)
    _relay: _Relay | None = None
    _netns_before: set[str] = field(default_factory=set)
    _bridge_made: bool = False
    _sysctls: dict[str, str] = field(default_factory=dict)
    _lock: Any = None

    # -- start --------------------------------------------------------------------------------

    @classmethod
    def start(cls, workdir: Path | None = None, *, ready_timeout: float = 180) -> Node:
        reason = unavailable()
        if reason:
            raise NodeError(reason)
        # One node per machine (one bridge, one cached containerd root): a second one waits.
        lock_path = _containerd_root().parent / "node.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = lock_path.open("w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return cls._start_locked(workdir, ready_timeout, lock)
        except BaseException:
            lock.close()
            raise

    @classmethod
    def _start_locked(cls, workdir: Path | None, ready_timeout: float, lock: Any) -> Node:
        workdir = workdir or Path(tempfile.mkdtemp(prefix="recording-operator-node-"))
        bin_dir = binaries()
        archives = images()
        plane = ControlPlane.start(workdir / "controlplane")
        node = cls(workdir=workdir, plane=plane, bin_dir=bin_dir,
                   kubeconfig=plane.admin_kubeconfig, volume_dir=workdir / "volumes",
                   _lock=lock)
        try:
            node._start(archives, ready_timeout)
        except BaseException:
            node.stop()
            raise
        return node

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    def _start(self, archives: dict[str, tuple[Path, str]], timeout: float) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._netns_before = set(_netns())
        self._network()
        self._containerd(archives["pause"][1], timeout)
        for archive, name in archives.values():
            self.import_image(archive, name)
        self._controllers(timeout)
        self._kubelet(timeout)
        self._kube_proxy(timeout)
        self._coredns(timeout)
        self._storage()

    def _launch(self, name: str, argv: list[str], ready: Callable[[], bool],
                timeout: float, what: str = "it to be ready") -> _Proc:
        proc = _Proc(name, argv, self.logs / f"{name}.log")
        proc.start()
        self._procs.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.popen is not None
            code = proc.popen.poll()
            if code is not None:
                raise NodeError(f"{name} exited with code {code} during start; its last log "
                                f"lines ({proc.log}):\n{proc.tail()}")
            with contextlib.suppress(OSError, AdminError, subprocess.SubprocessError):
                if ready():
                    return proc
            time.sleep(0.25)
        raise NodeError(f"{name}: timed out after {timeout:.0f}s waiting for {what}; its last "
                        f"log lines ({proc.log}):\n{proc.tail()}")

    def _network(self) -> None:
        """The pods' bridge with the node's address, made here so the kubelet, the relay and
        CoreDNS can listen on it before the first pod; the CNI config that uses it."""
        if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
            _run("ip", "link", "del", BRIDGE)  # left by a killed run
        _run("ip", "link", "add", "name", BRIDGE, "type", "bridge")
        self._bridge_made = True
        _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        # Service traffic from one pod to another goes through the node (kube-proxy's DNAT)
        # and back out on the bridge: forwarding on while the node runs. It and what the
        # kubelet and kube-proxy set are restored by stop().
        self._sysctls = {name: (SYSCTL / name).read_text() for name in SYSCTLS
                         if (SYSCTL / name).exists()}
        (SYSCTL / "net/ipv4/ip_forward").write_text("1")
        _write(self.workdir / "cni" / "net.d" / "10-bridge.conflist", json.dumps({
            "cniVersion": "1.0.0", "name": "recording-node",
            "plugins": [{
                "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "dataDir": str(self.workdir / "cni" / "ipam"),
                         "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                         "routes": [{"dst": "0.0.0.0/0"}]},
            }],
        }))

    def _containerd(self, sandbox_image: str, timeout: float) -> None:
        base = self.workdir / "containerd"
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{_containerd_root()}"
state = "{base / 'state'}"
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{base / 'ttrpc.sock'}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{base / 'opt'}"
[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  enable_selinux = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{self.workdir / 'cni' / 'net.d'}"
"""
        path = _write(base / "config.toml", config)
        self._launch("containerd", ["containerd", "--config", str(path)],
                     lambda: self.crictl("info", check=False).returncode == 0, timeout)
        # Pod sandboxes an earlier, killed run left in the cached root.
        self.crictl("rmp", "--all", "--force", check=False)

    def crictl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """crictl on this node's containerd (the node-level view a cluster admin has)."""
        return _run(str(self.bin_dir / "crictl"), f"--runtime-endpoint=unix://{self.socket}",
                    f"--image-endpoint=unix://{self.socket}", "--timeout=30s", *args,
                    check=check)

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run("ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args,
                    timeout=600)

    def import_image(self, archive: Path, name: str) -> None:
        """Imports an OCI archive into containerd's k8s.io namespace (what the kubelet sees),
        unless that very image is already there, unpacked (containerd's root is cached)."""
        with tarfile.open(archive) as tar:
            index = tar.extractfile("index.json")
            assert index is not None
            digest = json.load(index)["manifests"][0]["digest"]
        done = _containerd_root() / "imported" / digest.replace(":", "-")
        if done.exists() and digest in self._image_digests().get(name, ""):
            return
        self.ctr("images", "import", "--base-name", name.rsplit(":", 1)[0], str(archive))
        if digest not in self._image_digests().get(name, ""):
            raise NodeError(f"{archive} imported, but {name} is not {digest}: "
                            f"{self._image_digests()}")
        done.parent.mkdir(parents=True, exist_ok=True)
        done.touch()

    def _image_digests(self) -> dict[str, str]:
        lines = self.ctr("images", "ls").stdout.splitlines()[1:]
        return {line.split()[0]: line.split()[2] for line in lines if line.strip()}

    def _controllers(self, timeout: float) -> None:
        """kube-scheduler, and a second kube-controller-manager with what a node adds to the
        local control plane's controllers: EndpointSlices (for kube-proxy), the PersistentVolume
        binder (the recordings claim) and the pod garbage collector."""
        admin = str(self.kubeconfig)
        port = free_port()
        self._launch("kube-scheduler", [
            str(self.bin_dir / "kube-scheduler"), f"--kubeconfig={admin}",
            f"--authentication-kubeconfig={admin}", f"--authorization-kubeconfig={admin}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--leader-elect=false",
            "--v=1",
        ], lambda: _tcp(port), timeout)
        kcm = self.plane.workdir / "controller-manager.kubeconfig"
        plane_bins = Path(self.plane_bin_dir())
        port = free_port()
        self._launch("kube-controller-manager-node", [
            str(plane_bins / "kube-controller-manager"), f"--kubeconfig={kcm}",
            f"--authentication-kubeconfig={kcm}", f"--authorization-kubeconfig={kcm}",
            "--bind-address=127.0.0.1", f"--secure-port={port}",
            "--controllers=endpointslice-controller,persistentvolume-binder-controller,"
            "pod-garbage-collector-controller",
            f"--root-ca-file={self.plane.ca_cert}", "--use-service-account-credentials=true",
            "--leader-elect=false", "--v=1",
        ], lambda: _tcp(port), timeout)
        # The API server, for pods: its loopback port relayed on the bridge, as the endpoint of
        # the `kubernetes` Service (the local control plane runs no endpoint reconciler).
        api_port = int(self.plane.url.rsplit(":", 1)[1])
        self._relay = _Relay((GATEWAY, 0), ("127.0.0.1", api_port))
        self.apply({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes",
                                    "endpointslice.kubernetes.io/managed-by": "recording-node"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [GATEWAY], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": self._relay.port, "protocol": "TCP"}],
        })

    def plane_bin_dir(self) -> Path:
        from recording_operator.local import binaries as plane_binaries

        return plane_binaries.find()

    def _kubelet(self, timeout: float) -> None:
        root = self.workdir / "kubelet"
        healthz = free_port()
        resolv = _write(self.workdir / "resolv.conf", f"search {CLUSTER_DOMAIN}\n")
        config = _write(self.workdir / "kubelet.yaml", {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": GATEWAY, "port": free_port(), "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": healthz,
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "clusterDNS": [GATEWAY], "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(resolv), "podCIDR": POD_CIDR,
            "podLogsDir": str(self.workdir / "pod-logs"),
            "volumePluginDir": str(root / "volume-plugins"),
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False, "registerNode": True,
            "enableControllerAttachDetach": False,
        })
        self._launch("kubelet", [
            str(self.bin_dir / "kubelet"), f"--config={config}",
            f"--kubeconfig={self.kubeconfig}", f"--root-dir={root}",
            f"--cert-dir={root / 'pki'}", f"--hostname-override={NODE_NAME}",
            f"--node-ip={GATEWAY}", "--v=1",
        ], self._node_ready, timeout, "the node to be Ready")
        # The taint a node registers with until the node lifecycle controller (not run here)
        # sees it Ready.
        self.kubectl("taint", "nodes", NODE_NAME, "node.kubernetes.io/not-ready:NoSchedule-")

    def _node_ready(self) -> bool:
        node = self.plane.request("GET", f"/api/v1/nodes/{NODE_NAME}")
        conditions = (node.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _kube_proxy(self, timeout: float) -> None:
        healthz = free_port()
        config = _write(self.workdir / "kube-proxy.yaml", {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.kubeconfig)},
            "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE_NAME,
            "healthzBindAddress": f"127.0.0.1:{healthz}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            # Every Service connection leaves through the node (SNAT to the bridge address):
            # without br_netfilter a reply between two pods on the bridge would skip the NAT.
            "iptables": {"masqueradeAll": True, "localhostNodePorts": False},
            "nodePortAddresses": [f"{GATEWAY}/32"],
            # Leave the machine's conntrack settings alone.
            "conntrack": {"maxPerCore": 0, "min": 0,
                          "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        })
        self._launch("kube-proxy", [str(self.bin_dir / "kube-proxy"), f"--config={config}",
                                    "--v=1"],
                     lambda: _http_ok(f"http://127.0.0.1:{healthz}/healthz"), timeout)

    def _coredns(self, timeout: float) -> None:
        ready = free_port()
        corefile = _write(self.workdir / "Corefile", f"""{CLUSTER_DOMAIN}:53 in-addr.arpa:53 {{
    bind {GATEWAY}
    errors
    ready 127.0.0.1:{ready}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa {{
        kubeconfig {self.kubeconfig} admin
    }}
    cache 5
}}
""")
        self._launch("coredns", [str(self.bin_dir / "coredns"), "-conf", str(corefile)],
                     lambda: _http_ok(f"http://127.0.0.1:{ready}/ready"), timeout)

    def _storage(self) -> None:
        """StorageClass ``standard`` (the name kind's values use) with a local PersistentVolume
        on this node for the recordings claim: a local volume gets the pod's fsGroup, as a
        cloud disk does."""
        self.volume_dir.mkdir(parents=True, exist_ok=True)
        self.apply({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard"}, "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain",
        })
        self.add_volume("recordings-0")

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True, timeout=180, check=False)

    def apply(self, manifest: dict[str, Any]) -> None:
        done = self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
        if done.returncode != 0:
            raise NodeError(f"kubectl apply {manifest['kind']}: {done.stderr}")

    def add_volume(self, name: str, size: str = "2Gi") -> Path:
        path = self.volume_dir / name
        path.mkdir(parents=True, exist_ok=True)
        self.apply({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                "local": {"path": str(path)},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "kubernetes.io/hostname", "operator": "In",
                    "values": [NODE_NAME]}]}]}},
            },
        })
        return path

    # -- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops everything, newest first, and removes what the node made on this machine."""
        errors: list[str] = []
        running = {p.name: p for p in self._procs
                   if p.popen is not None and p.popen.poll() is None}
        if "kubelet" in running:
            # No new pods from here on (the Deployments' replacements stay Pending); the
            # kubelet stops the running ones as on any node.
            if "kube-scheduler" in running:
                running["kube-scheduler"].stop()
            with contextlib.suppress(Exception):
                self._delete_workloads()
        for proc in reversed(self._procs):
            if proc.name == "containerd":
                # Whatever the kubelet left: every pod sandbox, so the shims exit.
                with contextlib.suppress(Exception):
                    self.crictl("rmp", "--all", "--force", check=False)
            proc.stop()
        self._procs.clear()
        if self._relay is not None:
            self._relay.stop()
        for what, step in (("kube-proxy --cleanup", self._iptables_cleanup),
                           ("mounts", self._unmount), ("netns", self._netns_cleanup),
                           ("bridge", self._bridge_cleanup), ("cgroups", _cgroup_cleanup)):
            try:
                step()
            except Exception as exc:  # cleanup goes on; the first problem is reported
                errors.append(f"{what}: {exc}")
        self.plane.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
        if errors:
            raise NodeError("; ".join(errors))

    def _delete_workloads(self) -> None:
        """Deletes every pod, so the kubelet stops them as it would, and waits for it."""
        pods = self.plane.request("GET", "/api/v1/pods")["items"]
        for pod in pods:
            meta = pod["metadata"]
            with contextlib.suppress(AdminError):
                self.plane.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/"
                                   f"{meta['name']}?gracePeriodSeconds=5")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.crictl("pods", "-q", check=False).stdout.strip():
                return
            time.sleep(0.5)

    def _iptables_cleanup(self) -> None:
        if (self.bin_dir / "kube-proxy").exists():
            _run(str(self.bin_dir / "kube-proxy"), "--cleanup", check=False)
        # The kubelet's own chains (kube-proxy's cleanup leaves them).
        for tool in ("iptables", "ip6tables"):
            if shutil.which(tool) is None:
                continue
            _run(tool, "-D", "INPUT", "-j", "KUBE-FIREWALL", check=False)
            _run(tool, "-D", "OUTPUT", "-j", "KUBE-FIREWALL", check=False)
            for table in ("filter", "nat", "mangle"):
                for chain in ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"):
                    _run(tool, "-t", table, "-F", chain, check=False)
                    _run(tool, "-t", table, "-X", chain, check=False)

    def _unmount(self) -> None:
        prefix = str(self.workdir) + "/"
        points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
            _run("umount", "-l", point, check=False)

    def _netns_cleanup(self) -> None:
        for name in set(_netns()) - self._netns_before:
            _run("ip", "netns", "delete", name, check=False)

    def _bridge_cleanup(self) -> None:
        if self._bridge_made:
            _run("ip", "link", "del", BRIDGE, check=False)
        for name, value in self._sysctls.items():
            with contextlib.suppress(OSError):
                (SYSCTL / name).write_text(value)

    # -- what the tests use -------------------------------------------------------------------

    def container_pid(self, pod: str, namespace: str) -> int:
        """The host pid of a pod's first container's main process."""
        container = self.container_id(pod, namespace)
        info = json.loads(self.crictl("inspect", container).stdout)
        return int(info["info"]["pid"])

    def container_id(self, pod: str, namespace: str) -> str:
        ids = self.crictl("ps", "-q", "--state", "running", "--label",
                          f"io.kubernetes.pod.name={pod}", "--label",
                          f"io.kubernetes.pod.namespace={namespace}").stdout.split()
        if not ids:
            raise NodeError(f"no running container of pod {namespace}/{pod}")
        return ids[0]


def _containerd_root() -> Path:
    """containerd's root (content, unpacked layers) is kept in the cache between runs, so an
    image is imported and unpacked once; its state (tasks, sockets) is per run."""
    from recording_operator.local.binaries import cache_root

    return cache_root() / "node" / "containerd"


def _tcp(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def _netns() -> list[str]:
    with contextlib.suppress(OSError):
        return os.listdir("/run/netns")
    return []


def _cgroup_cleanup() -> None:
    """Removes the kubelet's (by then empty) ``kubepods`` cgroups, deepest first."""
    for controller in Path("/sys/fs/cgroup").iterdir():
        top = controller / "kubepods"
        if not top.is_dir():
            continue
        for directory in sorted((d for d in top.rglob("*") if d.is_dir()),
                                key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
