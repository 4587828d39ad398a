"""Debian's chromium driven by Playwright: the launch and the login the
browser tests (tests/web/test_browser.py) and the screenshots
(docs/make_screenshots.py) share.  Playwright cannot download a browser
here; ``apt-get install chromium`` provides one (run-tests does)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def missing() -> str:
    """Why there is no browser to drive ("" when there is one)."""
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    return ""


def launch(playwright):
    """A headless chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def log_in(page, username: str, password: str, landing: str = "**/attendance/") -> None:
    """Sign in through the site's login form."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(landing)
