"""Waking a waiting recorder: the pause its retry loop takes, and the watch of its own Recording
(against the real control plane, under the recorder's ServiceAccount with the chart's rules)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.resource import ANNOTATION_PUBLISHED, GROUP, PLURAL, VERSION
from recording_operator.model.timefmt import format_time, now
from recording_operator.recorder.wakeup import PublishWatch, pause
from tests.waiting import wait_for


def test_pause_without_notifications_is_the_plain_wait() -> None:
    stop = threading.Event()
    assert pause(stop, None, 0.01) is False
    stop.set()
    assert pause(stop, None, 60) is False  # a stop ends it at once


def test_pause_ends_at_a_publish_and_forgets_it() -> None:
    stop, wake = threading.Event(), threading.Event()
    wake.set()
    assert pause(stop, wake, 60) is True
    assert not wake.is_set()  # the next pause waits again
    assert pause(stop, wake, 0.01) is False


def test_pause_woken_from_another_thread_and_stopped() -> None:
    stop, wake = threading.Event(), threading.Event()
    timer = threading.Timer(0.05, wake.set)
    timer.start()
    started = time.monotonic()
    assert pause(stop, wake, 60) is True
    assert time.monotonic() - started < 30
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    assert pause(stop, wake, 60) is False
    timer.join()


def _path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


@pytest.fixture
def watched(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]]
) -> Iterator[tuple[PublishWatch, str]]:
    name = f"rec-{secrets.token_hex(3)}"
    for other in (name, f"{name}-other"):
        controlplane.request("POST", _path(namespace), {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
            "metadata": {"name": other, "namespace": namespace},
            "spec": {"id": other, "vhost": "default", "app": "app", "stream": {"name": "s"}},
        })
    kubeconfig = controlplane.service_account_kubeconfig(namespace, "recorder",
                                                         rbac_rules["recorder"])
    watch = PublishWatch(namespace, name, KubeTarget(kubeconfig=str(kubeconfig)),
                         threading.Event()).start()
    try:
        yield watch, name
    finally:
        watch.stop()



@pytest.mark.controlplane
def test_a_publish_mark_on_its_own_recording_wakes_the_recorder(
    controlplane: ControlPlane, namespace: str, watched: tuple[PublishWatch, str]
) -> None:
    watch, name = watched

    def mark(target: str, when: str) -> None:
        controlplane.request("PATCH", _path(namespace, target),
                             {"metadata": {"annotations": {ANNOTATION_PUBLISHED: when}}},
                             content_type="application/merge-patch+json")

    # a stamp from before the recorder started was for an earlier wait; another Recording's
    # stamp is not ours: neither wakes
    mark(name, format_time(now() - timedelta(hours=1)))
    mark(f"{name}-other", format_time(now()))
    # the watch may start after these: give the fresh stamp below a distinct value
    time.sleep(0.002)
    mark(name, format_time(now()))
    wait_for(watch.wake.is_set, 15, "the wake after a publish mark")
    assert watch.wakes == 1
    watch.wake.clear()
    time.sleep(0.002)
    mark(name, format_time(now()))
    wait_for(watch.wake.is_set, 15, "the wake after the next publish mark")
    assert watch.wakes == 2
