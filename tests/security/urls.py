from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.security import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_prodkit.urls")),
    path("plain/", views.plain),
    path("nonce/", views.nonce_page),
    path("async-nonce/", views.async_nonce_page),
    path("cacheable-nonce/", views.cacheable_nonce_page),
    path("own-headers/", views.own_headers),
]
