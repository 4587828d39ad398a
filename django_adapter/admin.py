"""Admin for the attendance tables; attgit's own tables are read-only here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .access import is_root
from .models import AttendanceRecord, BackupLog, Company, Remote, SyncState, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never edited: these rows are written by attgit only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(admin.ModelAdmin):
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


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "company", "is_staff", "is_superuser", "is_active")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (("Attendance", {"fields": ("role", "company")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        ("Attendance", {"fields": ("role", "company")}),
    )
    autocomplete_fields = ("company",)


@admin.register(BackupLog)
class BackupLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "operation", "user", "success", "filename",
        "companies_count", "records_count", "records_added", "records_updated",
        "records_skipped", "commit",
    )
    list_filter = ("operation", "success")
    search_fields = ("filename", "commit", "error_message", "user__username")


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
class RemoteAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "created_at")
    search_fields = ("name", "url")
    actions = [sync_from_remote]


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ("name", "commit", "updated_at")
