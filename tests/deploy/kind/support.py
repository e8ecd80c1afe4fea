"""The kind suite's view of its cluster (kubectl, the API's token, the inspector pod), shared
with the node suite, which runs the same scenarios on a real node."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx

from tests.waiting import wait_for

RELEASE = "recording-operator"


def kubectl_binary() -> str:
    """The kubectl next to this Python (the venv's), else the one on PATH."""
    own = Path(sys.executable).parent / "kubectl"
    return str(own) if own.exists() else "kubectl"


class Kind:
    """A :class:`scenarios.Cluster` on the e2e-kind cluster."""

    def __init__(self, kubeconfig: str, namespace: str, stream: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.stream = stream
        self.api_url = ""

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kubectl_binary(), f"--kubeconfig={self.kubeconfig}", *args],
                              input=stdin, capture_output=True, text=True, timeout=180)

    def must(self, *args: str) -> str:
        done = self.kubectl(*args)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def token(self) -> str:
        encoded = self.must("get", "secret", "-n", self.namespace, f"{RELEASE}-api-token",
                            "-o", "jsonpath={.data.token}")
        return base64.b64decode(encoded).decode()

    def api(self) -> httpx.Client:
        auth = base64.b64encode(self.token().encode()).decode()
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Basic {auth}"},
                            timeout=10)

    def files(self) -> dict[str, int]:
        out = self.must("exec", "-n", self.namespace, "inspector", "--",
                        "find", "/recordings", "-type", "f", "-printf", "%P %s\\n")
        return {name: int(size) for name, size in
                (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())}

    def probe(self, name: str) -> str:
        """ffprobe's view of a recorded file: its streams' codec names."""
        return self.must("exec", "-n", self.namespace, "inspector", "--", "ffprobe", "-v",
                         "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                         f"/recordings/{name}")

    def restart_operator(self) -> None:
        selector = "app.kubernetes.io/component=operator"
        old = self.must("get", "pods", "-n", self.namespace, "-l", selector, "-o",
                        "jsonpath={.items[*].metadata.name}").split()
        self.must("delete", "pod", "-n", self.namespace, "--wait=true", "-l", selector)

        def replaced() -> bool:
            out = self.must("get", "pods", "-n", self.namespace, "-l", selector, "-o",
                            "jsonpath={range .items[*]}{.metadata.name} "
                            "{.status.containerStatuses[0].ready}{\"\\n\"}{end}")
            pods = [line.split() for line in out.splitlines() if line.strip()]
            return len(pods) == 1 and pods[0][0] not in old and pods[0][1:] == ["true"]

        wait_for(replaced, 180, "the new operator pod to be ready", self.explain)

    def explain(self) -> str:
        parts = []
        for component in ("operator", "api"):
            done = self.kubectl("logs", "-n", self.namespace, "--tail=60",
                                f"deployment/{RELEASE}-{component}")
            parts.append(f"--- {component}\n{done.stdout}{done.stderr}")
        done = self.kubectl("get", "rec,pods", "-n", self.namespace, "-o", "wide")
        parts.append(f"--- objects\n{done.stdout}{done.stderr}")
        return "\n".join(parts)
