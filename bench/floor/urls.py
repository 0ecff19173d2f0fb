"""The product's URLs plus `/bench/floor` (the one-lookup floor the match API is measured against)."""

from django.urls import include, path

from bench.floor.views import FloorView

urlpatterns = [
    path("bench/floor", FloorView.as_view()),
    path("", include("configurator.urls")),
]
