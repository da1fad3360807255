"""Who can sign in to the demo (one list both commands use), the logins table, and the users' memberships."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from customers.models import CustomerMembership, StaffMembership

from .context import DemoSeed

DEMO_PASSWORD = "demo12345"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    lands_on: str
    first_name: str
    last_name: str
    partner_slug: str = ""
    staff_role: str = ""  # StaffMembership.Role value, for partner staff
    customer_name: str = ""  # for customer (portal) users
    can_manage_expense_codes: bool = False
    superuser: bool = False

    @property
    def email(self) -> str:
        return f"{self.username}@demo.octoo.example"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Platform admin (superuser)", "/admin/", "Ada", "Okonkwo", superuser=True),
    DemoUser(
        "northwind.admin",
        "Billing admin – Northwind Interpreting",
        "/office/",
        "Nora",
        "Whitfield",
        partner_slug="northwind",
        staff_role="billing_admin",
    ),
    DemoUser(
        "northwind.clerk",
        "Billing clerk – Northwind Interpreting",
        "/office/",
        "Calvin",
        "Reyes",
        partner_slug="northwind",
        staff_role="billing_clerk",
    ),
    DemoUser(
        "bluefin.admin",
        "Billing admin – Bluefin Field Services",
        "/office/",
        "Beatrice",
        "Lowell",
        partner_slug="bluefin",
        staff_role="billing_admin",
    ),
    DemoUser(
        "bluefin.clerk",
        "Billing clerk – Bluefin Field Services",
        "/office/",
        "Felix",
        "Marchetti",
        partner_slug="bluefin",
        staff_role="billing_clerk",
    ),
    DemoUser(
        "harborview.ap",
        "Customer user – Harborview Medical Center (manages expense codes)",
        "/portal/",
        "Helen",
        "Park",
        partner_slug="northwind",
        customer_name="Harborview Medical Center",
        can_manage_expense_codes=True,
    ),
    DemoUser(
        "summit.frontdesk",
        "Customer user – Summit Orthopedic Group",
        "/portal/",
        "Sam",
        "Ortiz",
        partner_slug="northwind",
        customer_name="Summit Orthopedic Group",
    ),
    DemoUser(
        "lakeshore.office",
        "Customer user – Lakeshore Legal Aid (bookings get a quote)",
        "/portal/",
        "Lena",
        "Brooks",
        partner_slug="northwind",
        customer_name="Lakeshore Legal Aid",
    ),
    DemoUser(
        "cascobay.ap",
        "Customer user – Casco Bay Ferries (manages expense codes)",
        "/portal/",
        "Martha",
        "Quinby",
        partner_slug="bluefin",
        customer_name="Casco Bay Ferries",
        can_manage_expense_codes=True,
    ),
)


def demo_logins_rows() -> list[tuple[str, str, str, str]]:
    """(username, password, role, lands on) for the demo users that exist."""
    usernames = [u.username for u in DEMO_USERS]
    existing = set(get_user_model().objects.filter(username__in=usernames).values_list("username", flat=True))
    return [(u.username, DEMO_PASSWORD, u.role, u.lands_on) for u in DEMO_USERS if u.username in existing]


def format_table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def demo_logins_table() -> str:
    return format_table(("Username", "Password", "Role", "Lands on"), demo_logins_rows())


def portal_users(seed: DemoSeed) -> dict[str, object]:
    """The customer (portal) users, by their customer's name."""
    return {d.customer_name: seed.users[d.username] for d in DEMO_USERS if d.customer_name}


def users_create(seed: DemoSeed) -> None:
    """The demo users and their memberships; a user that already exists is left as it was (with a note)."""
    existing = {u.username: u for u in get_user_model().objects.filter(username__in=[d.username for d in DEMO_USERS])}
    for login in DEMO_USERS:
        user = existing.get(login.username)
        if user is not None:
            seed.notes.append(f"User {login.username!r} already existed: left as it was (password unchanged).")
        else:
            user = _user_create(login, password_hash=seed.password_hash)
        seed.users[login.username] = user
        _memberships_ensure(seed, login, user)
    for slug, data in seed.partners.items():
        data.admin = seed.users[f"{slug}.admin"]
        data.clerk = seed.users[f"{slug}.clerk"]


def _user_create(login: DemoUser, *, password_hash: str):
    User = get_user_model()
    extra = {"first_name": login.first_name, "last_name": login.last_name}
    if login.superuser:
        user = User.objects.create_superuser(login.username, login.email, None, **extra)
    else:
        user = User.objects.create_user(login.username, login.email, None, **extra)
    user.password = password_hash  # hashed once: the same password for every demo user
    user.save(update_fields=["password"])
    return user


def _memberships_ensure(seed: DemoSeed, login: DemoUser, user) -> None:
    if login.staff_role and not StaffMembership.objects.filter(user=user).exists():
        partner = seed.partners[login.partner_slug].partner
        StaffMembership.objects.create(user=user, partner=partner, role=login.staff_role)
    if login.customer_name and not CustomerMembership.objects.filter(user=user).exists():
        partner_data = seed.partners[login.partner_slug]
        CustomerMembership.objects.create(
            user=user,
            customer=partner_data.customers[login.customer_name],
            can_manage_expense_codes=login.can_manage_expense_codes,
        )
