from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    """The app's label is ``attendance``: tables are ``attendance_*`` and the
    user model is ``attendance.User``."""

    name = "django_adapter"
    label = "attendance"
    verbose_name = "Attendance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .changelog import ensure_installed

        post_migrate.connect(ensure_installed, sender=self)
