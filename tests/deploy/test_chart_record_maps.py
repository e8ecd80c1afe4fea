"""An OvenMediaEngine record_map.xml given to the chart unchanged (``recordMaps``) reaches the
config next to config.yaml, where an app's ``streamMapFile`` reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_sdkpy
import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import parse_config

from .helm import install, uninstall

pytestmark = pytest.mark.controlplane

OME_EXAMPLE = Path(__file__).parent.parent / "model" / "data" / "ome-record_map.xml"
MOUNTED = "/etc/recording-operator"


def test_record_map_is_mounted_next_to_the_config(
    controlplane: ControlPlane, new_namespace: Any, tmp_path: Path
) -> None:
    namespace = new_namespace("recordmap")
    xml = OME_EXAMPLE.read_text()
    values = {
        "recordMaps": {"record_map.xml": xml},
        "config": {"vhosts": {"default": {"apps": {"app": {
            "source": "rtmp://media:1935/{app}/{stream}",
            "variants": {"h264_1080p": {"media": "video"}, "aac_128k": {"media": "audio"}},
            "streamMapFile": f"{MOUNTED}/record_map.xml",
            "streamMap": [{"streamName": "studio*"}]}}}}},
    }
    release = install(controlplane.admin_kubeconfig, namespace, "maps", values)
    [configmap] = release.find("ConfigMap")
    assert configmap["data"]["record_map.xml"].strip() == xml.strip()
    # what the components read, as mounted: every file of the ConfigMap in one directory
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)
    config = yaml.safe_load(configmap["data"]["config.yaml"].replace(MOUNTED, str(tmp_path)))
    app = parse_config(config).app("default", "app")
    assert app is not None
    assert [r.stream_name for r in app.rules] == ["studio*", "stream1*", "stream2*", "stream3*"]
    uninstall(controlplane.admin_kubeconfig, namespace, "maps")


def test_a_record_map_name_must_be_a_plain_xml_file_name(controlplane: ControlPlane) -> None:
    with pytest.raises(helm_sdkpy.InstallError) as caught:
        install(controlplane.admin_kubeconfig, "default", "badmap",
                {"recordMaps": {"../config.yaml": "<RecordInfo/>"}})
    message = str(caught.value)
    assert "'../config.yaml' does not match pattern" in message, message
