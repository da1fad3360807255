"""Shared fixtures, the ``postgres`` marker and seeded randomness."""

import os

import factory.random
import pytest
from django.db import connection
from django.db.backends.sqlite3 import base as _sqlite_base  # noqa: F401 - loaded before its operations (cycle)
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations
from hypothesis import HealthCheck, settings

from tests import factories

SEED = int(os.environ.get("TEST_SEED", "20260301"))

# Hypothesis: reproducible by default (derandomized), a wider random search with HYPOTHESIS_PROFILE=explore.
settings.register_profile(
    "default",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config):
    # WhiteNoise warns on every test client request when STATIC_ROOT was never collected; tests serve
    # static files through the finders (settings_test.WHITENOISE_USE_FINDERS), so the warning is noise.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning:django.core.handlers.base")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need row locks, real concurrency or its planner: skip them, visibly, on SQLite."""
    if connection.vendor != "sqlite":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, concurrency, its query planner)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _sqlite_flush_lifts_the_guards():
    """A transactional test ends with a flush: on SQLite a DELETE of every table, which the guard triggers
    (issued invoices, their lines, the audit trail) refuse and the month figures' triggers would count. The flush
    drops them and creates them again in the same transaction. PostgreSQL truncates, which fires no row trigger."""
    flush = SQLiteOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND (name LIKE 'guard%' OR name LIKE 'figures%')"
            )
            guards = cursor.fetchall()
        drops = [f'DROP TRIGGER "{name}"' for name, _ in guards]
        return flush(self, [*drops, *sql_list, *(sql for _, sql in guards)])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(autouse=True)
def _seeded_factories():
    """Every test starts from the same Faker/factory-boy random state, whatever ran before it."""
    factory.random.reseed_random(SEED)


@pytest.fixture
def partner(db):
    return factories.PartnerFactory()


@pytest.fixture
def customer(partner):
    return factories.CustomerFactory(partner=partner)


@pytest.fixture
def provider(partner):
    return factories.ProviderFactory(partner=partner)


@pytest.fixture
def staff_user(partner):
    return factories.StaffMembershipFactory(partner=partner).user


@pytest.fixture
def clerk_user(partner):
    return factories.StaffMembershipFactory(partner=partner, role="billing_clerk").user


@pytest.fixture
def customer_user(customer):
    return factories.CustomerMembershipFactory(customer=customer).user
