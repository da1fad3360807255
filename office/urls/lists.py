"""Office routes: lists."""

urlpatterns = []
