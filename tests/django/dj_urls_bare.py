"""A project URLconf that forgot the app's URLs (for the system checks' test)."""

urlpatterns: list = []
