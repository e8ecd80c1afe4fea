"""Debian's chromium driven by Playwright (its own browser download is not possible here),
and the embedded stack the console talks to."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import api, clip, publish, stack  # noqa: F401 - fixtures

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


# Module scope: sync Playwright runs an event loop in this thread while it is open, and the
# tests after this folder call asyncio.run() (the Helm library does).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: make system-deps installs Debian's chromium")
    # launch() gives the browser a fresh temporary profile of its own (and removes it)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


#: The README's pictures are refreshed only when asked (RECORDING_OPERATOR_SCREENSHOTS=1), so a test
#: run leaves the checkout as it found it; otherwise they go to a scratch directory.
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "images"
               if os.environ.get("RECORDING_OPERATOR_SCREENSHOTS") == "1"
               else Path(tempfile.mkdtemp(prefix="console-screenshots-")))
