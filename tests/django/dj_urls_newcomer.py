"""A project URLconf as the README's newcomer writes it: the admin and the app."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("attgit/", include("django_adapter.urls")),
]
