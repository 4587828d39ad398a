from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    """The app's label is ``attendance``: tables are ``attendance_*``; its
    optional user model is ``attendance.User`` (see the model)."""

    name = "django_adapter"
    label = "attendance"
    verbose_name = "Attendance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate

        from . import checks
        from .changelog import ensure_installed
        from .models import Remote

        checks.register()

        post_delete.connect(_remote_deleted, sender=Remote, dispatch_uid="attgit-remote-deleted")
        post_migrate.connect(ensure_installed, sender=self)


def _remote_deleted(sender, instance, **kwargs) -> None:
    """A deleted Remote leaves the git config too (also for a queryset delete)."""
    from .remotes import forget_remote

    forget_remote(instance.name)
