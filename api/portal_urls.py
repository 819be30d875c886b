"""/portail/jetons/: the vendor members' API token page."""

from django.urls import path

from . import portal_views

app_name = "api_tokens"

urlpatterns = [
    path("", portal_views.token_list, name="list"),
    path("<int:pk>/revoquer/", portal_views.token_revoke, name="revoke"),
]
