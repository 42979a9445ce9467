from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests.locking import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("notes/<int:pk>/", views.note),
    path("strict/<int:pk>/", views.strict_note),
    path("drf/<int:pk>/", views.drf_note),
]
