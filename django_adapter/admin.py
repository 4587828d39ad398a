"""Admin for the attendance tables; attgit's own tables are read-only here.

Root users (:func:`django_adapter.access.is_root`: by default a superuser,
a ``role == "root"`` user or one with ``attendance.backup_restore``) have
every permission on these models, as the pages give them everything;
anybody else has their Django permissions.  The admin site still needs
``is_staff``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from attgit.errors import AttgitError

from .access import is_root
from .models import AttendanceRecord, BackupLog, Company, Remote, SyncState, User


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
    list_filter = ("status", "shift", "company")
    search_fields = ("ep_no", "ep_name", "company__name")
    date_hierarchy = "date"
    list_select_related = ("company",)
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at", "updated_at")
    ordering = ("-date", "company__name", "ep_no")
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
    """Fetch each selected remote and merge it into the database (root
    users only: a sync rewrites every company's records)."""
    from .sync import sync_remote

    if not is_root(request.user):
        modeladmin.message_user(request, "Only root users may sync from a remote; nothing was done.",
                                messages.ERROR)
        return
    for remote in queryset:
        report = sync_remote(remote, request.user)
        modeladmin.message_user(request, report.message(), report.level)


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


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ("name", "commit", "updated_at")
