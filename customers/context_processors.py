from .access import customer_membership, staff_membership


def membership(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"staff_membership": staff_membership(user), "customer_membership": customer_membership(user)}
