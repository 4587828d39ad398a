"""Admin for the attendance tables; attgit's own tables are read-only here.

Root users (:func:`django_adapter.access.is_root`: by default a superuser,
a ``role == "root"`` user or one with ``attendance.backup_restore``) have
every permission on these models, as the pages give them everything;
anybody else has their Django permissions.  The admin site still needs
``is_staff``.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from attgit.errors import AttgitError

from .access import is_root
from .models import AttendanceRecord, BackupLog, Company, Job, Remote, SyncState, User

ROOT_ONLY = "Only root users may sync from a remote; nothing was done."


class RootAdmin(admin.ModelAdmin):
    """Root users may view, add, change and delete; others per their permissions."""

    def has_module_permission(self, request):
        return is_root(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_root(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return is_root(request.user) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_root(request.user) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_root(request.user) or super().has_delete_permission(request, obj)


class ReadOnlyAdmin(RootAdmin):
    """Shown, never edited: these rows are written by attgit only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Company)
class CompanyAdmin(RootAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(RootAdmin):
    list_display = (
        "date", "company", "ep_no", "ep_name", "shift", "status",
        "in_time", "out_time", "overstay", "updated_at",
    )
    # Every part of the list page is an index read at a million rows: no
    # date_hierarchy (its year links are a DISTINCT over every row), a date
    # filter of fixed ranges instead, no "shift" filter (a DISTINCT too),
    # and an ordering the attendance_admin_order index holds (the company
    # by id, not by name: a join cannot be indexed), total with the key so
    # Django adds no "-pk".
    list_filter = ("status", "date", "company")
    search_fields = ("ep_no", "ep_name", "company__name")
    list_select_related = ("company",)
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at", "updated_at", "history")
    ordering = ("-date", "company_id", "ep_no")

    @admin.display(description="History")
    def history(self, obj):
        """A link to the record's history (who changed it, when, from what
        to what), for root users; the page refuses anybody else."""
        from django.utils.html import format_html

        from .web.record_history import record_history_url

        if obj is None or obj.pk is None:
            return "–"
        return format_html('<a class="history-link" href="{}">History of this record</a>',
                           record_history_url(obj.ep_no, obj.company.name, obj.date))
    show_full_result_count = False  # a second COUNT(*) over a million rows


class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "company", "is_staff", "is_superuser", "is_active")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (("Attendance", {"fields": ("role", "company")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        ("Attendance", {"fields": ("role", "company")}),
    )
    autocomplete_fields = ("company",)


if not User._meta.swapped:  # only where the project's AUTH_USER_MODEL is attendance.User
    admin.site.register(User, UserAdmin)


@admin.register(BackupLog)
class BackupLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "operation", "actor", "user", "success", "filename",
        "companies_count", "records_count", "records_added", "records_updated",
        "records_skipped", "commit",
    )
    list_filter = ("operation", "success")
    search_fields = ("filename", "commit", "error_message", "actor")


@admin.action(description="Sync from remote")
def sync_from_remote(modeladmin, request, queryset):
    """Go to the sync preview of the selected remote (root users only: a
    sync rewrites every company's records).  Nothing is merged here: the
    preview and then the sync run as background jobs."""
    if not is_root(request.user):
        modeladmin.message_user(request, ROOT_ONLY, messages.ERROR)
        return None
    remotes = list(queryset[:2])
    if len(remotes) != 1:
        modeladmin.message_user(request, "Choose one remote to sync from: its preview comes first.",
                                messages.ERROR)
        return None
    return redirect("admin:attendance_remote_sync", remotes[0].pk)


@admin.register(Remote)
class RemoteAdmin(RootAdmin):
    """The repository's remotes (its git config is the truth: see
    :mod:`django_adapter.remotes`), refreshed before they are listed or opened."""

    list_display = ("name", "url", "created_at")
    search_fields = ("name", "url")
    actions = [sync_from_remote]

    def changelist_view(self, request, extra_context=None):
        self._refresh(request)
        return super().changelist_view(request, extra_context)

    def get_object(self, request, object_id, from_field=None):
        self._refresh(request)
        return super().get_object(request, object_id, from_field)

    def _refresh(self, request) -> None:
        from .remotes import refresh_from_repository

        if request.method != "GET" or not self.has_view_permission(request):
            return
        try:
            refresh_from_repository()
        except AttgitError as exc:
            self.message_user(request, f"Could not read the repository's remotes: {exc}", messages.WARNING)

    def get_urls(self):
        sync = self.admin_site.admin_view(self.sync_view)
        return [path("<int:remote_id>/sync/", sync, name="attendance_remote_sync"), *super().get_urls()]

    def sync_view(self, request, remote_id):
        return _sync_view(self, request, remote_id)


def _sync_view(model_admin, request, remote_id):
    """GET: start the preview job, show its progress, then the preview
    (counts, conflicts, a confirm button).  POST: start the sync job of the
    previewed commit and go to its progress page."""
    from .sync import sync_strategy
    from .web import confirm, jobs
    from .web.errors import describe

    if not is_root(request.user):
        raise PermissionDenied(ROOT_ONLY)
    remote = get_object_or_404(Remote, pk=remote_id)
    changelist = reverse("admin:attendance_remote_changelist")
    try:
        if request.method == "POST":
            preview = _preview_job(request.POST.get("job"), remote)
            if preview is None or preview.status != Job.DONE or preview.result.get("status") == "up-to-date":
                model_admin.message_user(request, "Preview the sync first: there is nothing confirmed to run.",
                                         messages.ERROR)
                return redirect("admin:attendance_remote_sync", remote.pk)
            return _confirm_sync(request, remote, preview)
        preview = _preview_job(request.GET.get("job"), remote)
        if preview is None:
            job = jobs.start(request, Job.SYNC_PREVIEW, {"remote_id": remote.pk, "remote": remote.name,
                                                         "url": remote.url, "strategy": sync_strategy()})
            return redirect(jobs.url_of(job))
    except AttgitError as exc:
        model_admin.message_user(request, f"Sync from {remote.name}: {describe(exc)}", messages.ERROR)
        return redirect(changelist)
    state = jobs.state_of(preview)
    if not preview.finished or preview.status == Job.INTERRUPTED:
        return render(request, "attendance/job.html", {"job": preview, "state": state})
    if preview.status == Job.FAILED:
        model_admin.message_user(request, f"Sync from {remote.name} failed: {preview.error}", messages.ERROR)
        return redirect(changelist)
    return render(request, "admin/attendance/remote/sync.html", {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "remote": remote,
        "job": preview, "preview": preview.result, "title": f"Sync from {remote.name}",
        "token": confirm.sign("sync", _sync_choices(remote, preview, preview.result),
                              preview.result.get("state", {})),
        "up_to_date": preview.result.get("status") == "up-to-date",
    })


def _sync_choices(remote, preview, chosen) -> dict:
    """What a sync confirm is about: the remote, its previewed commit, the strategy."""
    return {"remote": remote.pk, "preview": str(preview.pk), "theirs": chosen.get("theirs", ""),
            "strategy": chosen.get("strategy", "")}


def _confirm_sync(request, remote, preview):
    """Start the sync of exactly what was previewed (the token), refused
    when the form's choices differ or the database or repository moved."""
    from .web import confirm, jobs

    result = preview.result
    chosen = {"theirs": request.POST.get("theirs", ""), "strategy": request.POST.get("strategy", "")}
    try:
        expected = confirm.verify(request.POST.get("token", ""), "sync", _sync_choices(remote, preview, chosen))
        confirm.check_state(expected, confirm.state())
    except confirm.PreviewOutdated as exc:
        messages.error(request, f"Sync from {remote.name}: {exc}")
        return redirect("admin:attendance_remote_sync", remote.pk)
    job = jobs.start(request, Job.SYNC, {"remote_id": remote.pk, "remote": remote.name, "url": remote.url,
                                         "theirs": result["theirs"], "strategy": result["strategy"],
                                         "preview": str(preview.pk), "expect": expected})
    return redirect("attgit:job_progress", job.pk)


def _preview_job(job_id, remote):
    try:
        job_id = uuid.UUID(job_id or "")
    except ValueError:
        return None
    return Job.objects.filter(pk=job_id, kind=Job.SYNC_PREVIEW, params__remote_id=remote.pk).first()


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ("name", "commit", "updated_at")
