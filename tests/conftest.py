"""Shared fixtures, the ``postgres`` marker and seeded randomness."""

import os

import factory.random
import pytest
from django.db import connection
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
