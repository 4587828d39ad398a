"""The app's own login and logout pages (``attgit:login``, ``attgit:logout``).

A new project gets a working sign-in by including the app's URLs alone:
Django's ``LOGIN_URL`` default (``/accounts/login/``) and
``LOGIN_REDIRECT_URL`` default (``/accounts/profile/``) name pages a fresh
``startproject`` does not have.  A project that sets those settings keeps
its own pages: the app then follows them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import resolve_url
from django.urls import reverse


def login_url() -> str:
    """Where anonymous visitors sign in: the project's ``LOGIN_URL`` when it
    sets one, else this app's login page."""
    if settings.is_overridden("LOGIN_URL"):
        return resolve_url(settings.LOGIN_URL)
    return reverse("attgit:login")


class LoginView(auth_views.LoginView):
    """Django's login view with the app's template; after signing in, the
    ``next`` page, else the project's ``LOGIN_REDIRECT_URL``, else the
    attendance list."""

    template_name = "attendance/login.html"

    def get_default_redirect_url(self) -> str:
        if self.next_page or settings.is_overridden("LOGIN_REDIRECT_URL"):
            return super().get_default_redirect_url()
        return reverse("attgit:attendance_list")


class LogoutView(auth_views.LogoutView):
    """Django's logout view (POST only); afterwards the project's
    ``LOGOUT_REDIRECT_URL``, else the login page."""

    def get_default_redirect_url(self) -> str:
        if self.next_page or settings.LOGOUT_REDIRECT_URL:
            return super().get_default_redirect_url()
        return login_url()
