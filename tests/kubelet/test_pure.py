"""The runner's pure rules: path rewriting, $(VAR) expansion, resource values, pod phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from recording_operator.local.kubelet.env import ContainerConfigError, resource_value
from recording_operator.local.kubelet.paths import PathMap, expand, safe_join
from recording_operator.local.kubelet.status import (
    ContainerState,
    PodState,
    Terminated,
    exit_of,
    now,
)


def test_mount_paths_are_rewritten_as_whole_path_prefixes() -> None:
    paths = PathMap({"/tmp": Path("/data/tmp"), "/recordings/": Path("/data/pvc"),
                     "/recordings/live": Path("/data/live")})
    assert paths.rewrite("/tmp") == "/data/tmp"
    assert paths.rewrite("--out=/tmp/x.ts") == "--out=/data/tmp/x.ts"
    assert paths.rewrite('{"storageRoot":"/recordings","f":"/recordings/a/b"}') == (
        '{"storageRoot":"/data/pvc","f":"/data/pvc/a/b"}')
    assert paths.rewrite("/recordings/live/x") == "/data/live/x"  # the nested mount wins
    for untouched in ("/var/tmp", "/tmpfoo", "/tmp.d", "x/tmp", "file:///tmp"):
        assert paths.rewrite(untouched) == untouched
    assert paths.host_path("/tmp/a/b") == Path("/data/tmp/a/b")
    assert paths.host_path("/recordings/live") == Path("/data/live")
    assert paths.host_path("/elsewhere") is None


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)-$", env) == "1-two-$(C)-$(A)-$"


def test_item_paths_cannot_leave_their_volume(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b") == tmp_path.resolve() / "a" / "b"
    with pytest.raises(ValueError):
        safe_join(tmp_path, "../escape")


def test_resource_values_default_to_the_node() -> None:
    container = {"resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m"}}}
    node = {"cpu": "2", "memory": "8Gi"}
    assert resource_value(container, {"resource": "limits.memory", "divisor": "1Mi"}, node) == (
        "1024")
    assert resource_value(container, {"resource": "requests.cpu", "divisor": "1m"}, node) == (
        "250")
    assert resource_value(container, {"resource": "limits.cpu"}, node) == "2"
    with pytest.raises(ContainerConfigError):
        resource_value(container, {"resource": "cpu"}, node)


def _ended(code: int) -> Terminated:
    return Terminated(code, "Completed" if code == 0 else "Error", now(), now())


def _pod(policy: str, *states: ContainerState) -> PodState:
    return PodState(containers=list(states), restart_policy=policy, initialized=True)


def test_phase_rules() -> None:
    waiting = ContainerState("a")
    running = ContainerState("b")
    running.set_running("local://1")
    ok, failed = ContainerState("c"), ContainerState("d")
    ok.set_terminated(_ended(0))
    failed.set_terminated(_ended(2))
    backing_off = ContainerState("e")
    backing_off.set_terminated(_ended(1))
    backing_off.set_waiting("CrashLoopBackOff")

    assert _pod("Never", waiting).phase() == "Pending"
    assert _pod("Never", running, ok).phase() == "Running"
    assert _pod("Never", ok).phase() == "Succeeded"
    assert _pod("Never", ok, failed).phase() == "Failed"
    assert _pod("OnFailure", backing_off).phase() == "Running"
    assert _pod("Always", ok).phase() == "Running"
    ended = _pod("Always", ok)
    ended.ended = True
    assert ended.phase() == "Succeeded"
    uninitialized = PodState(containers=[waiting], init_containers=[failed],
                             restart_policy="Never")
    assert uninitialized.phase() == "Failed"
    uninitialized.restart_policy = "OnFailure"
    assert uninitialized.phase() == "Pending"


def test_signals_are_reported_as_128_plus_the_signal() -> None:
    killed = exit_of(-9, now(), "local://1")
    assert (killed.exit_code, killed.signal, killed.reason) == (137, 9, "Error")
    assert exit_of(0, now(), "local://1").reason == "Completed"
