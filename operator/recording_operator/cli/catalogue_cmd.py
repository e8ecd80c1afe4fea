"""``recording-operator catalogue rebuild``: the catalogue again from the files alone.

Reads every info XML under each app's storage root (the recorder's format, as the delivery
does) and, for apps with an ``upload`` block, asks the bucket for each file's object (a HEAD on
``<prefix>/<filePath>``): a file present locally is ``local``, one in the bucket has its
``s3://`` URL and the object's size. The rows are the ones the delivery's events make (same
key, same fields), so a rebuild over a live catalogue changes nothing, and one into an empty
catalogue gives it back. This is glue between three layers (recorder format, delivery's S3
client, catalogue), which is why it lives with the entry points.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

URL_ENV = "RECORDING_OPERATOR_CATALOGUE_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = sub.add_parser("rebuild", help="rebuild the catalogue from info XML files and "
                             "the bucket", description=__doc__)
    rebuild.add_argument("--data-dir", type=Path,
                         help="an embedded mode's data directory (`dev --data-dir`): its "
                         "config.yaml, recordings/ and catalogue.db are the defaults below")
    rebuild.add_argument("--config", type=Path, help="the vhost/app config file (YAML)")
    rebuild.add_argument("--storage-root", type=Path, help="the recordings volume's root")
    rebuild.add_argument("--catalogue-url",
                         help=f"the catalogue's database URL (default: ${URL_ENV}, else the "
                         "config's catalogue.url)")


@dataclass(frozen=True)
class Found:
    """One file as the files tell it: the event-shaped data and where it is."""

    data: dict[str, Any]
    local: bool
    url: str | None


def run(args: argparse.Namespace) -> int:
    from ..catalogue import Catalogue
    from ..model.config import ConfigError, default_config, load_config

    data_dir: Path | None = args.data_dir
    config_path = args.config or (data_dir / "config.yaml" if data_dir else None)
    storage_root = args.storage_root or (data_dir / "recordings" if data_dir else None)
    if storage_root is None:
        print("recording-operator catalogue rebuild: give --storage-root or --data-dir",
              file=sys.stderr)
        return 2
    try:
        config = load_config(config_path) if config_path else default_config()
    except ConfigError as exc:
        print(f"recording-operator catalogue rebuild: {exc}", file=sys.stderr)
        return 2
    url = (args.catalogue_url or os.environ.get(URL_ENV) or config.catalogue.url
           or (f"sqlite:///{data_dir / 'catalogue.db'}" if data_dir else None))
    if not url:
        print("recording-operator catalogue rebuild: no catalogue URL (--catalogue-url, "
              f"${URL_ENV} or catalogue.url in the config)", file=sys.stderr)
        return 2
    found = asyncio.run(find_files(config, storage_root))
    catalogue = Catalogue.open(url)
    try:
        for item in found:
            catalogue.record_file(item.data, local=item.local, url=item.url)
    finally:
        catalogue.close()
    print(f"catalogue rebuilt: {len(found)} files "
          f"({sum(f.local for f in found)} local, {sum(f.url is not None for f in found)} "
          "in a bucket)")
    return 0


async def find_files(config: Any, storage_root: Path) -> list[Found]:
    """Every finished file the info XML files under each app's root list."""
    from ..delivery.events import entry_data
    from ..delivery.objectstore import ObjectStore, StoreError
    from ..delivery.scan import InfoScanner
    from ..delivery.targets import app_targets
    from ..recorder.errors import StorageError
    from ..recorder.paths import StorageRoot

    found: list[Found] = []
    for target in app_targets(config, storage_root):
        if not target.root.is_dir():
            continue
        upload = target.config.upload
        store = ObjectStore(upload) if upload else None
        if store is not None:
            await store.__aenter__()
        try:
            seen: set[tuple[str, int]] = set()
            for info in InfoScanner(target.root).changed():
                for entry in info.entries:
                    if (entry.transaction_id, entry.sequence) in seen:
                        continue
                    seen.add((entry.transaction_id, entry.sequence))
                    size: int | None = None
                    try:
                        size = StorageRoot(target.root).resolve(entry.file_path).stat().st_size
                    except (StorageError, OSError):
                        size = None
                    local = size is not None
                    url = None
                    if store is not None and upload is not None:
                        key = upload.key(entry.file_path)
                        try:
                            size = await store.object_size(key)
                            url = store.url(key)
                        except StoreError:
                            url = None
                    found.append(Found(entry_data(entry, entry.record_bytes if size is None
                                                  else size), local, url))
        finally:
            if store is not None:
                await store.__aexit__(None, None, None)
    return found
