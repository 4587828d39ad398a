"""Root users only: every page and endpoint here is wrapped in :func:`root_required`.

Anonymous visitors are sent to the login page; anybody else who is signed
in (a company user, a staff user who is not root) gets 403, whatever the
method, before the view reads anything from the request.
"""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from attgit.format.backup import ERROR_MESSAGES

from ..access import is_root
from .account import login_url


def root_required(view):
    """Let root users through; redirect anonymous visitors; 403 everyone else."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if not is_root(request.user):
            raise PermissionDenied(ERROR_MESSAGES["permission_denied"])
        return view(request, *args, **kwargs)

    return wrapped
