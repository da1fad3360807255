"""Office routes: the navbar's search."""

from django.urls import path

from office.views import search

urlpatterns = [
    path("search/", search.search, name="search"),
]
