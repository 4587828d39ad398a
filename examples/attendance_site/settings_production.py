"""Production settings: ``--settings attendance_site.settings_production``.

Needs ``DJANGO_SECRET_KEY`` (at least 50 characters) and
``DJANGO_ALLOWED_HOSTS`` (comma-separated; default localhost only) in the
environment; serve it over HTTPS behind a proxy that sets
``X-Forwarded-Proto``.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F401,F403

DEBUG = False

try:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
except KeyError:
    raise ImproperlyConfigured(
        "set DJANGO_SECRET_KEY to a long random string (50+ characters) for production"
    ) from None
# Without DJANGO_ALLOWED_HOSTS the site answers only on this machine (fails closed).
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if h.strip()
]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
