from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests.queries import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("run/<int:count>/", views.run),
    path("async/run/<int:count>/", views.async_run),
    path("loop/<int:count>/", views.loop),
    path("async/loop/<int:count>/", views.async_loop),
    path("slow/", views.slow),
    path("user/", views.user),
    path("async/user/", views.async_user),
    path("anonymous/", views.anonymous),
    path("boom/", views.boom),
    path("async/boom/", views.async_boom),
]
