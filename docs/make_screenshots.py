"""Screenshots of the root-only pages: docs/screenshots/*.png.

Builds a throw-away example site in a temporary folder (SQLite, demo data),
serves it with ``runserver`` and its background jobs with ``db_worker``,
and drives Debian's chromium (tests/browser.py: the launch and login the
browser tests use too) through the pages: backup, restore preview,
progress, summary, history, compare, and a merge with thousands of
conflicts (summary, a filter, a bulk resolution).  Nothing outside the
temporary folder and the output folder is touched.

    python docs/make_screenshots.py [--out docs/screenshots] [--records 120000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path[:0] = [str(EXAMPLES), str(ROOT)]
from tests import browser as chromium  # noqa: E402 - the launch and login the browser tests use

WIDTH, TALLEST = 1280, 1500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--records", type=int, default=120_000)
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="attgit-shots-") as var:
        env = site_env(Path(var))
        manage(env, "migrate", "-v0")
        manage(env, "seed_demo", "--records", str(options.records), "--companies", "8")
        os.environ.update(env)
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # this script's own process only
        import django

        django.setup()
        port = free_port()
        server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                  cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2"],
                                  cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port)
            shoot(f"http://127.0.0.1:{port}", options.out, Path(var))
        finally:
            for process in (server, worker):
                process.terminate()
                process.wait(10)


def site_env(var: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ATTGIT_DB_PATH")}
    env.update(ATTGIT_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="attendance_site.settings",
               PYTHONPATH=os.pathsep.join([str(EXAMPLES), str(ROOT)]), ATTGIT_LOG_LEVEL="WARNING")
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=EXAMPLES, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(600):  # a loaded machine: up to a minute
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("runserver did not start")


# --- the data's story ---------------------------------------------------------------

def records():
    from django_adapter.models import AttendanceRecord

    return AttendanceRecord.objects.select_related("company").order_by("company__name", "date", "ep_no")


def touch(queryset, **values) -> None:
    from django.utils import timezone

    queryset.model.objects.filter(pk__in=list(queryset.values_list("pk", flat=True))).update(
        updated_at=timezone.now(), **values)


def corrections(n: int = 0) -> None:
    """A day's corrections: a few statuses, times and overstays."""
    touch(records()[n * 40: n * 40 + 6], status="L", in_time=None, out_time=None)
    touch(records()[n * 40 + 10: n * 40 + 14], in_time=dt.time(9, 20), overstay="1.5")


def many_corrections() -> None:
    """A busy day on many records of every company: thousands of conflicts
    against the backup file, unevenly spread over companies and fields."""
    from django_adapter.models import AttendanceRecord, Company

    for n, company in enumerate(Company.objects.order_by("name")):
        ids = list(AttendanceRecord.objects.filter(company=company).order_by("date", "ep_no")
                   .values_list("pk", flat=True)[: 150 * (n + 1)])
        for start in range(0, len(ids), 500):
            batch = AttendanceRecord.objects.filter(pk__in=ids[start:start + 500])
            if n % 2:
                touch(batch, status="L", in_time=None, out_time=None)
            else:
                touch(batch, overstay="2.5")
    touch(AttendanceRecord.objects.order_by("-date", "id")[:300], shift="N")


def lose_records(fraction: float = 0.4) -> None:
    """An accident: part of the table is gone."""
    from django_adapter.models import AttendanceRecord

    total = AttendanceRecord.objects.count()
    cut = list(AttendanceRecord.objects.order_by("-date", "id").values_list("id", flat=True)[: int(total * fraction)])
    for start in range(0, len(cut), 900):
        AttendanceRecord.objects.filter(id__in=cut[start:start + 900]).delete()


# --- the pages ------------------------------------------------------------------------

def shoot(base: str, out: Path, var: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = chromium.launch(p)
        page = browser.new_page(base_url=base, viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
        page.set_default_timeout(120_000)
        chromium.log_in(page, "root", "root")

        first = backup(page)
        for n in range(1, 4):
            corrections(n)
            backup(page)
        page.goto("/backup/")
        save(page, out / "backup.png")

        with page.expect_download() as info:
            page.goto("/backup/")
            page.click(f"text={first}")
        saved = var / first
        info.value.save_as(saved)

        corrections(5)
        lose_records()
        page.goto("/restore/")
        page.set_input_files("input[type=file]", str(saved))
        page.click("text=Upload and preview")
        page.wait_for_selector(".tiles")  # once the preview job is done
        save(page, out / "restore_preview.png")

        page.click("text=Apply restore")
        page.wait_for_url("**/jobs/*/")
        page.add_style_tag(content=".progress-bar { transition: none !important; }")  # no picture mid-glide
        try:
            page.wait_for_function("""() => {
                const phase = document.querySelector('[data-phase]');
                const width = parseFloat(document.querySelector('.progress-bar').style.width);
                return phase && phase.textContent === 'Writing records' && width > 15 && width < 85;
            }""", timeout=60_000, polling=50)
        except Exception:  # noqa: BLE001 - too fast to catch: a picture of whatever shows
            pass
        save(page, out / "progress.png")
        page.wait_for_selector("#summary")
        save(page, out / "summary.png")

        page.goto("/history/")
        save(page, out / "history.png")
        page.click("tr:nth-child(3) >> text=changes")
        page.wait_for_url("**/history/compare/**")
        save(page, out / "compare.png")

        many_corrections()
        page.goto("/restore/")
        page.set_input_files("input[type=file]", str(saved))
        page.click("text=Upload and preview")
        page.wait_for_selector(".tiles")
        page.check("input[name=strategy][value=manual]")
        page.click("text=Update the preview")
        page.wait_for_selector("#previewed[data-strategy=manual]")  # the new preview, not the old page
        page.click("text=Apply restore")
        page.wait_for_selector("#summary")
        page.goto("/conflicts/")
        save(page, out / "conflicts.png")
        company = page.locator("#conflict-summary tr[data-company]").nth(1).get_attribute("data-company")
        page.select_option("#filter select[name=company]", company)
        page.click("#filter >> text=Show")
        page.wait_for_url("**company=*")
        save(page, out / "conflicts_filtered.png")
        page.click("#all-theirs")
        page.wait_for_url("**/jobs/*/")
        page.wait_for_selector("#summary")
        save(page, out / "conflicts_resolved.png")
        browser.close()


def backup(page) -> str:
    page.goto("/backup/")
    page.click("text=Create backup")
    page.wait_for_selector("#summary")
    return page.locator("[data-download]").get_attribute("href").rstrip("/").split("/")[-1]


def save(page, path: Path) -> None:
    height = min(page.evaluate("document.documentElement.scrollHeight"), TALLEST)
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
