"""The image: its Dockerfile's install steps, run for real in a clean virtualenv (where no
container engine runs, as here), and the real image built and run where one does.

The clean-virtualenv test executes the build stage's own RUN lines (paths mapped to a temporary
directory), so a step that breaks in the Dockerfile breaks here too: the wheel is built from the
files the Dockerfile copies, installed with its flags (PyAV from its wheel, nothing compiled),
pip removed, and the installed command then records a real stream."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.model.resolved import RecordingRef, ResolvedRecording

from .helm import ROOT

DOCKERFILE = ROOT / "Dockerfile"
VENV_IN_IMAGE = "/opt/recording-operator"


@dataclass
class Stage:
    base: str
    name: str | None
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        out.append(current + line)
        current = ""
    return out


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    for line in instructions(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            parts = rest.split()
            found.append(Stage(base=parts[0], name=parts[2] if len(parts) > 2 else None))
        elif not found:
            continue
        elif word == "WORKDIR":
            found[-1].workdir = rest
        elif word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                found[-1].env[key] = value
        elif word == "COPY" and "--from" not in rest:
            *sources, dest = rest.split()
            found[-1].copies.append((sources, dest))
        elif word == "RUN":
            found[-1].runs.append(rest)
        if found:
            found[-1].lines.append(line)
    return found


def test_dockerfile_is_multi_stage_non_root_and_labelled() -> None:
    text = DOCKERFILE.read_text()
    build, final = stages(text)
    assert re.search(r"^ARG PYTHON_IMAGE=\S*python:3\.11-slim", text, re.M)
    assert build.base == final.base == "${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST}"
    assert build.name == "build"
    final_text = "\n".join(final.lines)
    assert f"COPY --from=build {VENV_IN_IMAGE} {VENV_IN_IMAGE}" in final_text
    assert "USER 10001:10001" in final_text
    assert 'ENTRYPOINT ["recording-operator"]' in final_text
    for label in ("title", "description", "version", "revision", "created", "licenses"):
        assert f"org.opencontainers.image.{label}=" in final_text
    # Nothing is built in the final stage: no compilers, no wheel building, no source.
    assert not re.search(r"\b(gcc|g\+\+|build-essential|python3-dev|pip wheel)\b", final_text)
    assert "COPY operator" not in final_text
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!operator/"]


@dataclass
class Installed:
    venv: Path
    wheels: Path

    def command(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        done: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            [str(self.venv / "bin" / "recording-operator"), *args],
            capture_output=True, text=True, timeout=60, **kwargs)
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The build stage's RUN lines, executed with the image paths mapped under a tmp dir."""
    build = stages(DOCKERFILE.read_text())[0]
    base = tmp_path_factory.mktemp("image")
    venv, wheels, context = base / "venv", base / "wheels", base / "src"
    context.mkdir()
    for sources, dest in build.copies:  # what .dockerignore lets into the build context
        for source in sources:
            target = context / dest / Path(source).name if dest.endswith("/") else context / dest
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", "*.egg-info"))
            else:
                shutil.copy(ROOT / source, target)
    env = {**os.environ, **build.env}
    # The one departure: keep pip's cache so the test does not download every wheel each run.
    env.pop("PIP_NO_CACHE_DIR", None)
    env.pop("VIRTUAL_ENV", None)
    for run in build.runs:
        script = (run.replace(VENV_IN_IMAGE, str(venv)).replace("/wheels", str(wheels))
                  .replace("python3 -m venv", f"{shlex.quote(sys.executable)} -m venv"))
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=context, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (
            f"RUN {run}\nfailed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return Installed(venv, wheels)


def test_every_role_starts_from_the_installed_command(installed: Installed) -> None:
    for role in ("record", "api", "run"):
        done = installed.command(role, "--help")
        assert done.returncode == 0, done.stderr
        assert f"usage: recording-operator {role}" in done.stdout
    [wheel] = installed.wheels.glob("recording_operator-*.whl")
    assert "py3-none-any" in wheel.name  # pure Python: the same wheel on every platform


def test_the_image_has_no_pip_and_pyav_came_as_a_wheel(installed: Installed) -> None:
    assert not (installed.venv / "bin" / "pip").exists()
    probe = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c",
         "import av, importlib.metadata as m, pathlib;"
         "files = m.files('av');"
         "print(av.__version__, any('.libs' in str(f) for f in files))"],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    _, bundled = probe.stdout.split()
    assert bundled == "True", "PyAV must come from its wheel with FFmpeg's libraries bundled"


def _job(server: MediaServer, stream: str, transaction_id: str) -> ResolvedRecording:
    """A recording of the local nginx-rtmp's stream, split every second, files named by
    stream and sequence next to the stream's info XML."""
    return ResolvedRecording(
        recording=RecordingRef(namespace="none", name="image-test"), id="image-test",
        vhost="default", app="app", stream=stream, transaction_id=transaction_id,
        source_url=server.rtmp_url("app", stream), interval_ms=1000,
        file_path="${Stream}_${Sequence}.ts", info_path="${Stream}.xml")


@pytest.mark.media
def test_the_installed_recorder_records_a_real_stream(
    installed: Installed, media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    server, stream = media
    job = _job(server, stream, "IMAGETEST0000001")
    spec = tmp_path / "spec.json"
    spec.write_text(job.to_env())
    out = tmp_path / "recordings"
    out.mkdir()
    process = subprocess.Popen(
        [str(installed.venv / "bin" / "recording-operator"), "record", "--no-report",
         "--spec-file", str(spec), "--storage-root", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (out / f"{stream}_1.ts").exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no second file within 30 s"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert (out / f"{stream}_0.ts").stat().st_size > 0
    assert (out / f"{stream}.xml").read_text().startswith("<?xml")
    assert json.loads(spec.read_text())["sourceUrl"].startswith("rtmp://")


def docker_engine() -> str | None:
    """Why no image can be built here, or None when an engine answers."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return f"no Docker engine answers ({(done.stderr.strip().splitlines() or ['?'])[-1]})"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The image built from the Dockerfile. Where no registry can be reached, name a locally
    made base (tests/deploy/make-local-base.sh) in RECORDING_OPERATOR_PYTHON_IMAGE, and extra
    build flags (e.g. --network=host) in RECORDING_OPERATOR_DOCKER_BUILD_ARGS."""
    reason = docker_engine()
    if reason:
        pytest.skip(f"cannot build the image: {reason}")
    tag = "recording-operator:test"
    args = ["docker", "build", "-t", tag,
            *shlex.split(os.environ.get("RECORDING_OPERATOR_DOCKER_BUILD_ARGS", ""))]
    base = os.environ.get("RECORDING_OPERATOR_PYTHON_IMAGE")
    if base:
        args += ["--build-arg", f"PYTHON_IMAGE={base}"]
    done = subprocess.run([*args, str(ROOT)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield tag


def docker_run(image: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """As the chart runs it: read-only root, a /tmp tmpfs, no capabilities, no escalation."""
    return subprocess.run(
        ["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
         "--security-opt", "no-new-privileges", *args],
        capture_output=True, text=True, timeout=timeout)


def test_the_real_image_runs_as_non_root_with_every_role(image: str) -> None:
    config = subprocess.run(["docker", "image", "inspect", image, "--format",
                             "{{.Config.User}} {{json .Config.Entrypoint}}"],
                            capture_output=True, text=True, timeout=60)
    assert config.stdout.split() == ["10001:10001", '["recording-operator"]']
    for role in ("record", "api", "run"):
        done = docker_run(image, image, role, "--help")
        assert done.returncode == 0, done.stderr
        assert f"usage: recording-operator {role}" in done.stdout
    tools = docker_run(image, "--entrypoint", "sh", image, "-c",
                       "id -u; command -v gcc cc pip || true")
    assert tools.stdout.split() == ["10001"], tools.stdout


@pytest.mark.media
def test_the_real_image_records_a_real_stream(
    image: str, media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    """`recording-operator record` in the image, on the host network, against the local
    nginx-rtmp: two files and the info XML land in the mounted directory, and SIGTERM (docker
    stop) finishes cleanly."""
    server, stream = media
    job = _job(server, stream, "IMAGETEST0000002")
    out = tmp_path / "recordings"
    out.mkdir()
    out.chmod(0o777)  # the image's user writes here
    name = f"record-{stream}"
    started = subprocess.run(
        ["docker", "run", "-d", "--name", name, "--network", "host", "--read-only",
         "--tmpfs", "/tmp", "--cap-drop", "ALL", "-v", f"{out}:/recordings",
         "-e", f"RECORDING_SPEC={job.to_env()}", image, "record", "--no-report"],
        capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        while not (out / f"{stream}_1.ts").exists():
            assert time.monotonic() < deadline, subprocess.run(
                ["docker", "logs", name], capture_output=True, text=True).stderr[-3000:]
            time.sleep(0.5)
        subprocess.run(["docker", "stop", "-t", "20", name], capture_output=True, timeout=60)
        code = subprocess.run(["docker", "inspect", name, "--format", "{{.State.ExitCode}}"],
                              capture_output=True, text=True, timeout=60).stdout.strip()
        assert code == "0", subprocess.run(["docker", "logs", name], capture_output=True,
                                           text=True).stderr[-3000:]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    assert (out / f"{stream}_0.ts").stat().st_size > 0
    assert (out / f"{stream}.xml").read_text().startswith("<?xml")
