"""A project URLconf as the README's newcomer writes it, plus Django's own
``django.contrib.auth.urls`` (for the login pages' test)."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("attgit/", include("django_adapter.urls")),
]
