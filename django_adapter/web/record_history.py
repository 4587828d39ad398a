"""One record's history for auditors (root users): every snapshot where it
was added, changed or deleted, who did it, field by field; a conflict a
merge settled shows both sides, the value each disputed field took, and
the audit log's rows of the people who chose (written when a conflict is
resolved on the Conflicts page, and when the merge is concluded).

The timeline itself is the library's (:mod:`attgit.ops.history`); this
page only adds the audit rows, which live in the database.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from attgit.errors import AttgitError
from attgit.format import records as rec
from attgit.ops.history import parse_key, record_timeline

from ..models import BackupLog
from ..repository import open_repository
from . import display, errors
from .access import root_required

#: events shown (newest first); a record rarely has more
EVENTS_LISTED = 200


def record_history_url(ep_no: str, company: str, date) -> str:
    """The history page of one record (its key, as the list shows it)."""
    day = date.isoformat() if hasattr(date, "isoformat") else str(date)
    return reverse("attgit:record_history") + "?" + urlencode({"ep_no": ep_no, "company": company, "date": day})


@root_required
@require_GET
def record_history_view(request):
    """The timeline of the record ``?ep_no=&company=&date=``."""
    asked = {name: request.GET.get(name, "").strip() for name in ("ep_no", "company", "date")}
    context: dict = {"asked": asked, "columns": display.COLUMNS}
    try:
        key = parse_key(asked["ep_no"], asked["company"] or None, asked["date"] or None)
        events = record_timeline(open_repository(), key)[:EVENTS_LISTED]
    except AttgitError as exc:
        return render(request, "attendance/record_history.html", context, status=errors.say(request, exc))
    context.update(key=key, events=[_event_view(e) for e in events])
    return render(request, "attendance/record_history.html", context)


def _event_view(event) -> dict:
    """An event as the template reads it (trailer names have hyphens)."""
    info = event.info
    view = {"id": info.id, "short": info.short, "time": info.time, "actor": event.to_dict()["commit"]["actor"],
            "author": info.author, "kind": event.kind, "action": event.action, "summary": info.summary,
            "changes": event.changes, "resolution": None, "parent": info.parents[0] if info.parents else ""}
    if event.resolution is not None:
        view["resolution"] = _resolution_view(event.resolution, info.id)
    elif info.type == "import" and info.trailers.get("Strategy") == "manual":
        # A pull's conflicts are resolutions above; a pull that merely
        # brought this record in was no one's choice for it.
        view["audit"] = _import_choices(event, info.id)
    return view


def _import_choices(event, commit: str) -> list:
    """The choices made for this record in a manual merge git cannot show
    both sides of (an import: the file's version is in no commit): the
    resolutions logged under the record's key, and the concluding row."""
    key = rec.describe_key(rec.key(event.new or event.old))
    rows = list(BackupLog.objects.filter(operation="resolve", details__record=key).select_related("user")[:20])
    rows += list(BackupLog.objects.filter(commit=commit).select_related("user")[:5])
    return [_audit_view(row) for row in rows]


def _resolution_view(res, commit: str) -> dict:
    """Both sides of the settled conflict, field by field, and the audit
    rows of the people who chose: per-conflict resolutions, and the row of
    the commit that concluded the merge."""
    if "record" in res.chosen:
        fields = [{"field": "the record", "ours": _whole(res.ours), "theirs": _whole(res.theirs),
                   "took": res.chosen["record"]}]
    else:
        fields = [{"field": name, "ours": res.ours[name], "theirs": res.theirs[name], "took": side}
                  for name, side in res.chosen.items()]
    rows = list(BackupLog.objects.filter(details__conflict=res.conflict).select_related("user")[:20])
    rows += list(BackupLog.objects.filter(commit=commit).select_related("user")[:5])
    return {"conflict": res.conflict, "kind": res.kind, "by": res.by, "strategy": res.strategy, "fields": fields,
            "audit": [_audit_view(row) for row in rows]}


def _whole(record) -> str:
    return "deleted" if record is None else "kept (" + ", ".join(
        f"{f}={record[f]}" for f in ("status", "shift", "in_time", "out_time") if record.get(f)) + ")"


def _audit_view(row: BackupLog) -> dict:
    choice = row.details.get("choice")
    if isinstance(choice, dict):
        choice = ", ".join(f"{k}: {v}" for k, v in choice.items())
    what = f"chose {choice}" if choice else row.get_operation_display().lower()
    if row.details.get("status"):
        what += f" ({row.details['status']})"
    return {"pk": row.pk, "when": row.created_at, "who": str(row.user or row.actor or "–"), "what": what,
            "url": _audit_url(row)}


def _audit_url(row: BackupLog) -> str:
    """The audit row's page in the admin (the History page's log when the
    admin is not installed)."""
    try:
        return reverse("admin:attendance_backuplog_change", args=[row.pk])
    except NoReverseMatch:
        return reverse("attgit:history") + f"#audit-{row.pk}"
