"""Office routes: reports."""

urlpatterns = []
