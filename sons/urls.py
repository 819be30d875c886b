from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "SONS – Ségur du numérique en santé"
admin.site.site_title = "Administration SONS"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalogue:published", permanent=False)),
    path("referencements/", include("catalogue.urls")),
    path("admin/tableau-de-bord/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    path("rappels/", include("reminders.urls")),
    path("signature/", include("signing.urls")),
    path("portail/jetons/", include("api.portal_urls")),
    path("portail/", include("portal.urls")),
    path("api/v1/", include("api.urls")),
]
