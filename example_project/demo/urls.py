from __future__ import annotations

from django.urls import path

from demo import views

app_name = "demo"

urlpatterns = [
    path("ping/", views.ping, name="ping"),
    path("boom/", views.boom, name="boom"),
    path("slow/", views.slow, name="slow"),
    path("n-plus-one/", views.n_plus_one, name="n-plus-one"),
    path("notes/", views.notes, name="notes"),
    path("notes/<int:pk>/", views.note, name="note"),
    path("orders/", views.orders, name="orders"),
]
