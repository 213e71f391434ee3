"""Headless Chromium (Debian's package) driven by Playwright, for browser tests.

Playwright's own browser download needs the internet, so the tests use the system Chromium with
the flags that keep it off the network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = (
        os.environ.get("SEATKEEPER_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError(
            "Browser tests need Chromium: apt-get install chromium (./dev test does)"
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the Django ORM calls made by the
    # test itself (fixtures, assertions) are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def click_nav(page, key: str) -> None:
    """Click the menu entry `key` (its data-nav), opening its group of the menu first when it
    sits in one, as a person does."""
    link = page.locator(f".mainnav [data-nav={key}]")
    group = page.locator(f".mainnav details:has([data-nav={key}])")
    if group.count() and group.get_attribute("open") is None:
        group.locator("summary").click()
    link.click()
