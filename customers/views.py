from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .access import customer_membership, staff_membership


@login_required
def home(request):
    """Send each user to their home: staff to /office/, customer users to /portal/, admins to /admin/."""
    if staff_membership(request.user):
        return redirect("office:dashboard")
    if customer_membership(request.user):
        return redirect("portal:dashboard")
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "registration/no_membership.html", status=403)
