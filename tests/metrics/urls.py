from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from tests.metrics import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("django_prodkit.urls")),
    path("notes/<int:pk>/", views.note, name="note"),
    path("async/notes/<int:pk>/", views.async_note, name="async-note"),
    re_path(r"^articles/(?P<year>[0-9]{4})/$", views.article, name="article"),
    path("missing/<int:pk>/", views.missing, name="missing"),
    path("boom/", views.boom, name="boom"),
    path("async/boom/", views.async_boom, name="async-boom"),
    path("unavailable/", views.server_error, name="unavailable"),
    path("api/", include([path("items/<slug:slug>/", views.item, name="item")])),
]
