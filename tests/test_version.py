"""One version: ``recording_operator.__version__`` is the package's (pyproject reads it), and
the image, the chart and the examples say the same."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import recording_operator

ROOT = Path(__file__).resolve().parent.parent
VERSION = recording_operator.__version__


def test_the_chart_deploys_this_version() -> None:
    chart = yaml.safe_load((ROOT / "charts/recording-operator/Chart.yaml").read_text())
    assert chart["appVersion"] == VERSION


def test_the_image_is_labelled_with_this_version() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^ARG VERSION=(\S+)$", dockerfile, re.MULTILINE) == [VERSION]


def test_the_examples_name_this_version() -> None:
    rendered = (ROOT / "examples/kubectl/recording-operator.yaml").read_text()
    versions = set(re.findall(r"app\.kubernetes\.io/version: (\S+)", rendered))
    images = set(re.findall(r"image: recording-operator:([0-9][0-9A-Za-z.+-]*)", rendered))
    assert versions == {VERSION}
    assert images == {VERSION}
    values = yaml.safe_load((ROOT / "examples/values-full.yaml").read_text())
    assert values["image"]["tag"] == VERSION


def test_pyproject_reads_the_version_from_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject[pyproject.index("[project]"):pyproject.index("[project.", 1)]
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert 'dynamic = ["version"]' in project
    assert 'version = { attr = "recording_operator.__version__" }' in pyproject
