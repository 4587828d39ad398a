"""The example site as an existing project adopting the app: Django's own
``auth.User``, no attendance user model.

``attendance.User`` is swapped out here (no table, no admin); "is root" is
decided by the ``ATTGIT_IS_ROOT`` hook's default: a superuser, or a user
holding the permission ``attendance.backup_restore``.  Used by the tests
that keep the app reusable:
``python manage.py check --settings attendance_site.settings_plain``.
"""

from .settings import *  # noqa: F401,F403

AUTH_USER_MODEL = "auth.User"
