"""The console in a real browser (Debian's chromium) against the embedded stack: a running
task is listed and its bytes grow, a range of a finished recording plays in the page, and
stopRecord from the page removes the task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect

from recording_operator.local.publisher import Publisher
from recording_operator.local.stack import EmbeddedStack
from tests.e2e.conftest import TOKEN, Api
from tests.waiting import wait_for

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(300)]


def console_url(stack: EmbeddedStack) -> str:
    return stack.api_url.removesuffix("/v1") + "/console"


def sign_in(page: Page, stack: EmbeddedStack) -> None:
    page.goto(console_url(stack))
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()


def row_bytes(page: Page, task: str) -> int:
    text = page.locator(f'tr[data-task="{task}"] td.bytes').inner_text(timeout=5000)
    return int(text or 0)


def test_a_task_started_from_the_page_shows_growing_bytes_and_stops_from_the_page(
        page: Page, stack: EmbeddedStack, publish: Callable[[str], Publisher]) -> None:
    publish("console-live")
    sign_in(page, stack)
    page.get_by_label("Stream", exact=True).first.fill("console-live")
    page.get_by_label("Task id").fill("from-the-page")
    page.get_by_role("button", name="Start recording").click()
    row = page.locator('tr[data-task="from-the-page"]')
    expect(row).to_be_visible(timeout=10000)
    expect(row.locator("td").nth(2)).to_have_text("recording", timeout=60000)
    first = wait_for(lambda: row_bytes(page, "from-the-page") or None, 30, "bytes shown")
    wait_for(lambda: row_bytes(page, "from-the-page") > first, 30, "bytes growing")
    page.screenshot(path=str(SCREENSHOTS / "console-tasks.png"))
    page.get_by_role("button", name="Stop from-the-page").click()
    expect(row).to_have_count(0, timeout=60000)


def test_a_range_of_a_finished_recording_plays_in_the_page(
        page: Page, stack: EmbeddedStack, api: Api,
        publish: Callable[[str], Publisher]) -> None:
    publish("console-played")
    api.start(id="played", stream={"name": "console-played"}, interval=3000)
    client = httpx.Client(base_url=stack.api_url, headers=api.client.headers, timeout=10)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    listing = "/vhosts/default/apps/app/streams/console-played/recordings"

    def files() -> list[dict[str, str]] | None:
        answer = client.get(listing, params={"start": f"{day}T00:00:00Z",
                                             "end": f"{day}T23:59:59Z"})
        found = answer.json()["response"]["files"] if answer.status_code == 200 else []
        return found if len(found) >= 3 else None

    found = wait_for(files, 90, "three finished files in the catalogue")
    api.stop("played")
    sign_in(page, stack)
    timeline = page.get_by_role("region", name="Timeline")
    timeline.get_by_label("Stream", exact=True).fill("console-played")
    timeline.get_by_role("button", name="Show").click()
    expect(page.locator("#tl-summary")).to_contain_text("file(s)", timeout=20000)
    page.get_by_label("From (UTC)").fill(found[0]["startTime"][11:19])
    page.get_by_label("To (UTC)").fill(found[2]["finishTime"][11:19])
    page.get_by_role("button", name="Play", exact=True).click()  # not "Stop played"
    video = page.locator("#player")
    wait_for(lambda: video.evaluate("v => v.currentTime") > 1.0, 30,
             "the video playing past one second")
    assert video.evaluate("v => v.videoWidth") == 320
    page.screenshot(path=str(SCREENSHOTS / "console-timeline.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "console-phone.png"), full_page=True)
    client.close()
