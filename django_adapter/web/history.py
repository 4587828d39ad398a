"""History: the snapshots, newest first, a chart of record counts, the
audit log, and a comparison of any two snapshots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Iterable

from django.contrib import messages
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from attgit.errors import AttgitError
from attgit.format.backup import read_backup
from attgit.merge.diff import CompanyDiff
from attgit.ops.compare import BackupVersion, diff_snapshots, diff_versions, trusted_snapshot

from ..backups import read_options
from ..models import BackupLog, Company
from ..repository import open_repository
from . import display, errors, uploads
from .access import root_required
from .forms import CompareFileForm, CompareForm, errors_of

COMMITS_LISTED = 100
LOG_LISTED = 50
#: Rows a comparison shows per company, and in all (the counts cover everything).
COMPARE_ROWS = 100
COMPARE_BUDGET = 1000


@root_required
@require_GET
def history_view(request):
    repo = open_repository()
    company = request.GET.get("company", "").strip()
    commits = _commits_of(request, repo, company) if company else [_row(c) for c in repo.log(limit=COMMITS_LISTED)]
    return render(request, "attendance/history.html", {
        "commits": commits, "company": company,
        "companies": Company.objects.order_by("name").values_list("name", flat=True),
        "chart": records_chart(list(repo.log(limit=COMMITS_LISTED, first_parent=True))),
        "logs": [(log, PurePath(log.filename).name) for log in BackupLog.objects.select_related("user")[:LOG_LISTED]],
        "form": CompareForm(initial={"a": commits[1]["id"] if len(commits) > 1 else "",
                                     "b": commits[0]["id"] if commits else ""}),
        "file_form": CompareFileForm(),
    })


def _commits_of(request, repo, company: str) -> list:
    """The snapshots that changed one company's records (the company
    filter), with the records each added, changed and deleted there."""
    from attgit.ops.history import company_log

    try:
        return [{**_row(c.info), "change": c.change, "counts": c.counts}
                for c in company_log(repo, company, limit=COMMITS_LISTED)]
    except AttgitError as exc:
        errors.say(request, exc)
        return []


def _row(info) -> dict:
    """A commit as the template reads it (trailer names have hyphens)."""
    return {"id": info.id, "short": info.short, "time": info.time, "summary": info.summary,
            "type": info.type, "parents": info.parents, "created_by": info.trailers.get("Created-By", info.author),
            "companies": info.count("Companies"), "records": info.count("Records")}


@dataclass
class CompanyChanges:
    company: str
    counts: dict
    rows: list = field(default_factory=list)
    hidden: int = 0


@csrf_exempt  # checked by _compare_upload, once the size limit has been applied (see uploads)
@sensitive_post_parameters("passphrase")  # never in an error report
@root_required
@require_http_methods(["GET", "POST"])
def compare_view(request):
    """What changed from snapshot ``a`` to snapshot ``b``, company by
    company; a POST puts an uploaded backup file on one side."""
    if request.method == "POST":
        refused = uploads.refuse_oversize(request)
        if refused is not None:
            return render(request, "attendance/compare.html", {}, status=errors.say(request, refused))
        return _compare_upload(request, uploads.limit_uploads(request))
    form = CompareForm(request.GET)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return render(request, "attendance/compare.html", {"form": form}, status=400)
    repo = open_repository()
    try:
        a, b = repo.resolve(form.cleaned_data["a"]), repo.resolve(form.cleaned_data["b"])
        companies = changes_of(diff_snapshots(repo.snapshot(a), repo.snapshot(b), trusted=trusted_snapshot(repo)))
    except AttgitError as exc:
        return render(request, "attendance/compare.html", {"form": form}, status=errors.say(request, exc))
    return _render_changes(request, repo.info(a), repo.info(b), companies)


@dataclass
class FileSide:
    """A backup file as one side of a comparison (what the page names)."""

    short: str
    time: object
    summary: str


@csrf_protect
def _compare_upload(request, handler):
    """The uploaded file against a snapshot: read from the upload itself
    (never kept) as the restore page reads one (gzipped, encrypted for the
    site's key or with the form's passphrase, within the upload limit and
    ``ATTGIT_DECOMPRESSED_LIMIT``: :func:`~django_adapter.backups.read_options`),
    validated whole first, compared line by line as commits are
    (:func:`attgit.ops.compare.diff_versions`), one company at a time."""
    form = CompareFileForm(request.POST, request.FILES)
    if handler.exceeded_at:
        return render(request, "attendance/compare.html", {},
                      status=errors.say(request, uploads.too_large(handler.exceeded_at)))
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return render(request, "attendance/compare.html", {}, status=400)
    uploaded, repo = form.cleaned_data["backup_file"], open_repository()
    try:
        commit = repo.resolve(form.cleaned_data["commit"])
        with read_backup(uploaded.file, max_bytes=uploads.limit(),
                         **read_options(form.cleaned_data["passphrase"] or None)) as backup:
            file_side, snapshot = BackupVersion(backup), repo.snapshot(commit)
            a, b = (file_side, snapshot) if form.cleaned_data["side"] == "a" else (snapshot, file_side)
            companies = changes_of(diff_versions(a, b, labels=("the older side", "the newer side")))
            described = _file_side(uploaded.name, backup)
    except AttgitError as exc:
        return render(request, "attendance/compare.html", {}, status=errors.say(request, exc))
    info = repo.info(commit)
    sides = (described, info) if form.cleaned_data["side"] == "a" else (info, described)
    return _render_changes(request, *sides, companies)


def _file_side(name: str, backup) -> FileSide:
    created = backup.metadata.get("created_at")
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
    except (AttributeError, ValueError):
        when = None
    shown = uploads._display_name(name)
    return FileSide(shown, when, f"backup file {shown}, {backup.total_records:,} records")


def changes_of(diffs: Iterable[CompanyDiff]) -> list:
    """What the page shows of each company's diff: its counts and its first
    rows (within the page's budget).  ``diffs`` is taken one company at a
    time, and each is dropped once summed up, so a comparison holds one
    company's differences at most, not every company's."""
    budget = [COMPARE_BUDGET]
    companies = []
    for diff in diffs:
        rows = display.take(display.diff_rows(diff), [min(COMPARE_ROWS, budget[0])])
        budget[0] -= len(rows)
        total = sum(diff.counts.values())
        companies.append(CompanyChanges(diff.company, diff.counts, rows, total - len(rows)))
    return companies


def _render_changes(request, a, b, companies: list):
    return render(request, "attendance/compare.html", {
        "a": a, "b": b, "companies": companies, "columns": display.COLUMNS,
        "totals": {k: sum(c.counts[k] for c in companies) for k in ("added", "removed", "changed")},
    })


# --- the chart ------------------------------------------------------------------------

WIDTH, HEIGHT, PAD = 720, 180, 36


def records_chart(commits: list) -> dict | None:
    """An inline SVG line of the record count, oldest snapshot to newest,
    along this environment's own line of history (first parents: after a
    pull, the other environment's commits are not this database's states).

    Snapshots are spaced evenly (a busy day and a quiet month take the same
    room); each point's tooltip names the snapshot.  The scale starts at
    zero, so a dip of two records in thousands looks like what it is.
    """
    points = [(c, c.count("Records")) for c in reversed(commits) if c.count("Records") is not None]
    if not points:
        return None
    top, bottom = max(n for _, n in points), 0
    span = top or 1
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)

    def y(n: int) -> float:
        return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (n - bottom) / span, 1)

    dots = [{"x": round(PAD + i * step, 1), "y": y(n), "records": n, "commit": c} for i, (c, n) in enumerate(points)]
    return {
        "width": WIDTH, "height": HEIGHT, "pad": PAD, "top": top, "bottom": bottom, "top_y": y(top),
        "mid": top // 2, "mid_y": y(top // 2),
        "base_y": HEIGHT - PAD, "right": WIDTH - PAD, "dots": dots,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots), "first": points[0][0], "last": points[-1][0],
    }
