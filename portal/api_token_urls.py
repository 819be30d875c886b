"""/portail/jetons/: the vendor members' API token page (namespace « api_tokens »)."""

from django.urls import path

from .views import api_tokens

app_name = "api_tokens"

urlpatterns = [
    path("", api_tokens.token_list, name="list"),
    path("<int:pk>/revoquer/", api_tokens.token_revoke, name="revoke"),
]
