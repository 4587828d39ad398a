from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    """The app's label is ``attendance``: tables are ``attendance_*`` and the
    user model is ``attendance.User``."""

    name = "django_adapter"
    label = "attendance"
    verbose_name = "Attendance"
    default_auto_field = "django.db.models.BigAutoField"
