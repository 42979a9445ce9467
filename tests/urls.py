from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_prodkit.urls")),
    path("sync/<int:pk>/", views.sync_view, name="sync"),
    path("async/<int:pk>/", views.async_view, name="async"),
    path("held-id/", views.held_id, name="held-id"),
    path("boom/", views.boom, name="boom"),
]
