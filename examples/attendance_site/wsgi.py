"""WSGI entry point: ``gunicorn attendance_site.wsgi`` from ``examples/``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendance_site.settings")
application = get_wsgi_application()
