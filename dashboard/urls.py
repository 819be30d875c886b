from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:code>/", views.dispositif_page, name="dispositif"),
    path("<slug:code>/<slug:slug>/", views.list_page, name="list"),
]
