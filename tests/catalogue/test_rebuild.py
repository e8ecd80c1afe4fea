"""``recording-operator catalogue rebuild`` gives the rows the delivery's events gave: the real
delivery uploads finished files to a real S3 store (versitygw) and feeds the API's catalogue
through its signed events; a rebuild from the info XML files and the bucket alone, into an
empty catalogue, must then hold the same rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.catalogue import Catalogue, CatalogueFile
from recording_operator.cli.main import main
from recording_operator.delivery.service import Receiver as ExtraReceiver
from recording_operator.local.s3server import S3Server
from recording_operator.model.config import parse_config
from tests.api.conftest import TOKEN, ServerThread
from tests.delivery.conftest import bucket  # noqa: F401 (fixtures)
from tests.delivery.support import SECRET, DeliveryThread, app_target, fast_settings, finish_file
from tests.waiting import wait_for

pytestmark = pytest.mark.s3


class _NoStore:
    async def close(self) -> None:
        return None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "recordings"
    path.mkdir()
    return path


def _rows(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Every row without its database id (which only numbers insertions)."""
    return [{k: v for k, v in dataclasses.asdict(f).items() if k != "id"}
            for f in catalogue.all_files()]


@pytest.fixture
def config_data(root: Path, s3: S3Server, bucket: str) -> dict[str, Any]:  # noqa: F811
    return {"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://127.0.0.1/app/{stream}",
        "storage": {"volume": {"hostPath": {"path": str(root)}}},
        "upload": {"url": f"s3://{bucket}/live", "endpoint": s3.endpoint}}}}}}


@pytest.fixture
def fed(tmp_path: Path, config_data: dict[str, Any]) -> Iterator[str]:
    """The API with its catalogue, as the embedded mode runs it; yields the events URL."""
    settings = ApiSettings(config=parse_config(config_data), access_token=TOKEN,
                           catalogue_url=f"sqlite:///{tmp_path / 'events.db'}",
                           catalogue_secret=SECRET)
    with ServerThread(create_app(settings, store=_NoStore())) as server:  # type: ignore[arg-type]
        yield f"{server.url}/v1/catalogue/events"


def test_rebuild_from_files_and_bucket_gives_the_rows_the_events_gave(
        tmp_path: Path, root: Path, config_data: dict[str, Any], fed: str) -> None:
    target = app_target(root, upload=config_data["vhosts"]["default"]["apps"]["app"]["upload"])
    settings = fast_settings(tmp_path / "state",
                             extra_receivers=(ExtraReceiver(fed, SECRET),))
    delivery = DeliveryThread([target], settings).start()
    events = Catalogue.open(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        for sequence in range(3):
            finish_file(root, "tx", sequence, size=3000 + sequence, last=sequence == 2)

        def uploaded() -> list[CatalogueFile] | None:
            files = events.all_files()
            done = len(files) == 3 and all(f.url and not f.local for f in files)
            return files if done else None

        files = wait_for(uploaded, 30, "three files uploaded, in the catalogue")
        assert [f.bytes for f in files] == [3000, 3001, 3002]
        assert all(f.url and f.url.startswith("s3://") for f in files)
        assert not any((root / f.file_path).exists() for f in files), "deleteLocal"
    finally:
        delivery.stop()
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config_data))
    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    assert main(["catalogue", "rebuild", f"--config={config_path}",
                 f"--storage-root={root}", f"--catalogue-url={rebuilt_url}"]) == 0
    rebuilt = Catalogue.open(rebuilt_url)
    assert _rows(rebuilt) == _rows(events)
    # A rebuild over the catalogue the events made changes nothing.
    assert main(["catalogue", "rebuild", f"--config={config_path}",
                 f"--storage-root={root}", f"--catalogue-url={events.engine.url}"]) == 0
    assert _rows(events) == _rows(rebuilt)
    events.close()
    rebuilt.close()


def test_rebuild_without_a_catalogue_url_says_so(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "rebuild", f"--storage-root={tmp_path}"]) == 2
    assert "no catalogue URL" in capsys.readouterr().err
