from django.urls import path
from django.views.generic import RedirectView

from . import views
from .web import account, backup, conflicts, history, jobs, preview, record_history, restore, schedule

# Every name is under the ``attgit`` namespace (``reverse("attgit:backup_data")``),
# so the app's names never meet a project's own.
app_name = "attgit"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="attgit:attendance_list"), name="home"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("attendance/", views.attendance_list, name="attendance_list"),
    # Root-only pages (django_adapter.web): backup, restore, history, conflicts.
    path("backup/", backup.backup_data_view, name="backup_data"),
    path("backup/download/<str:filename>/", backup.download_backup_view, name="download_backup"),
    path("restore/", restore.restore_data_view, name="restore_data"),
    path("restore/preview/", preview.preview_restore_view, name="preview_restore"),
    path("restore/apply/", restore.apply_restore_view, name="apply_restore"),
    path("jobs/<uuid:job_id>/", jobs.job_page, name="job_progress"),
    path("jobs/<uuid:job_id>/status/", jobs.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/retry/", jobs.retry_job_view, name="retry_job"),
    path("history/", history.history_view, name="history"),
    path("history/compare/", history.compare_view, name="compare"),
    path("history/record/", record_history.record_history_view, name="record_history"),
    path("schedule/", schedule.schedule_view, name="schedule"),
    path("conflicts/", conflicts.conflicts_view, name="conflicts"),
    path("conflicts/resolve/", conflicts.resolve_conflict_view, name="resolve_conflict"),
    path("conflicts/conclude/", conflicts.conclude_merge_view, name="conclude_merge"),
    path("conflicts/abort/", conflicts.abort_merge_view, name="abort_merge"),
]
