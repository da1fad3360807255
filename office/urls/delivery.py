"""Office routes: delivery."""

urlpatterns = []
