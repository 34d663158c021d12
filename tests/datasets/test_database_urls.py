"""Database URLs a user writes: a scheme without a driver gets the one Tutela installs, and
a driver that is not installed is named with the way to install it."""

from __future__ import annotations

import pytest

from tutela.adapters.database import make_engine
from tutela.domain.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://tutela@db.example/app", "postgresql+psycopg"),
        ("mysql://tutela@db.example/app", "mysql+pymysql"),
        ("mariadb://tutela@db.example/app", "mariadb+pymysql"),
        ("mysql+pymysql://tutela@db.example/app", "mysql+pymysql"),
    ],
)
def test_a_scheme_without_a_driver_gets_tutelas(url: str, driver: str) -> None:
    engine = make_engine(url, pre_ping=False)  # nothing is connected yet
    assert engine.url.drivername == driver
    engine.dispose()


def test_a_driver_that_is_not_installed_is_named_with_its_fix() -> None:
    with pytest.raises(ConfigurationError, match="driver pg8000 is not installed; install"):
        make_engine("postgresql+pg8000://tutela@db.example/app")


def test_a_url_that_is_no_url_says_what_one_looks_like() -> None:
    with pytest.raises(ConfigurationError, match="mysql\\+pymysql://user@host/dbname"):
        make_engine("shop database")
