from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.index, name="index"),
    path("admin/", admin.site.urls),
    path("demo/", include("demo.urls")),
    # /health/live/, /health/ready/ and /health/.
    path("", include("django_prodkit.urls")),
]

handler500 = "demo.views.server_error"
