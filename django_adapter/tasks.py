"""The one task attgit gives Django's tasks framework: run a recorded Job.

A page records a :class:`~django_adapter.models.Job` and enqueues
:func:`run_job` with its id; a worker process (``manage.py db_worker`` of
django-tasks-db, or whatever backend the project's ``TASKS`` setting names)
runs it.  Everything the job needs is in its row, so the task's only
argument is the id, and the row -- not the task's result -- is what the
pages read.

Django >= 6 ships the framework as ``django.tasks``; on 5.x the
``django-tasks`` backport provides the same API as ``django_tasks``.
Without a ``TASKS`` setting the framework's default backend runs a task
at once, inside the request: fine for a quick try, not for a real site.
"""

from __future__ import annotations

try:  # Django >= 6.0
    from django.tasks import task
except ImportError:  # the backport
    from django_tasks import task


@task()
def run_job(job_id: str) -> None:
    from .web.jobs import run

    run(job_id)
