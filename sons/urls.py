from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from core.health import HealthView
from core.metrics import metrics_view

admin.site.site_header = "SONS – Ségur du numérique en santé"
admin.site.site_title = "Administration SONS"
admin.site.index_title = "Administration"
# The admin's sign-in form, which counts failures and locks like the portal's, is set by the
# portal app at start-up (portal.apps).

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalogue:published", permanent=False)),
    path("referencements/", include("catalogue.urls")),
    path("admin/tableau-de-bord/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    path("rappels/", include("reminders.urls")),
    path("signature/", include("signing.urls")),
    path("portail/jetons/", include("portal.api_token_urls")),
    path("portail/", include("portal.urls")),
    path("api/v1/", include("api.urls")),
    # Operations (README): every check, the load balancer's probe, Prometheus's scrape.
    path("health/", HealthView.as_view(), name="health"),
    path("health/live/", HealthView.as_view(checks=()), name="health-live"),
    path("metrics", metrics_view, name="metrics"),
]
