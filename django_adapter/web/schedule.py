"""The schedule page: what ATTGIT_SCHEDULE runs, when it runs next, the
last runs with their results, the keep rule and the scheduled backup files
in the backup storage."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from attgit.errors import AttgitError

from .. import schedule, storage
from . import errors
from .access import root_required


@root_required
@require_GET
def schedule_view(request):
    status = 200
    try:
        rows, keep = schedule.overview(), schedule.retention()
        files = storage.names(schedule.SCHEDULED_PREFIX)
    except AttgitError as exc:
        rows, keep, files = [], {}, []
        status = errors.say(request, exc)
    return render(request, "attendance/schedule.html", {
        "schedules": rows, "keep": keep, "files": list(reversed(files)), "failures": schedule.failures(),
    }, status=status)
