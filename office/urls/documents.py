"""Office routes: documents."""

urlpatterns = []
