"""Office routes: customers."""

urlpatterns = []
