"""Fixtures shared by the whole suite live in tests/support/; this file only registers them."""

pytest_plugins = ["tests.support.redis", "tests.support.processes", "tests.support.http"]
