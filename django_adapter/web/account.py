"""The app's own login and logout pages (``attgit:login``, ``attgit:logout``).

A new project gets a working sign-in by including the app's URLs alone:
Django's ``LOGIN_URL`` default (``/accounts/login/``) and
``LOGIN_REDIRECT_URL`` default (``/accounts/profile/``) name pages a fresh
``startproject`` does not have.  Where those settings name a page the
project does have (its own, or ``django.contrib.auth.urls``), the app
follows them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme


def existing(target) -> str | None:
    """``target`` (a URL or a URL name, as Django's settings take them) as a
    URL when it names a page of this site or another host, else None."""
    if not target:
        return None
    try:
        url = resolve_url(target)
    except NoReverseMatch:
        return None
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url  # another host (a single sign-on page): the project's choice
    try:
        resolve(url.split("?")[0])
    except Resolver404:
        return None
    return url


def login_url() -> str:
    """Where anonymous visitors sign in: the project's ``LOGIN_URL`` when
    that page exists, else this app's login page."""
    return existing(settings.LOGIN_URL) or reverse("attgit:login")


class LoginView(auth_views.LoginView):
    """Django's login view with the app's template; after signing in, the
    ``next`` page, else the project's ``LOGIN_REDIRECT_URL``, else the
    attendance list."""

    template_name = "attendance/login.html"

    def get_default_redirect_url(self) -> str:
        if self.next_page:
            return super().get_default_redirect_url()
        return existing(settings.LOGIN_REDIRECT_URL) or reverse("attgit:attendance_list")


class LogoutView(auth_views.LogoutView):
    """Django's logout view (POST only); afterwards the project's
    ``LOGOUT_REDIRECT_URL``, else the login page."""

    def get_default_redirect_url(self) -> str:
        if self.next_page:
            return super().get_default_redirect_url()
        return existing(settings.LOGOUT_REDIRECT_URL) or login_url()
