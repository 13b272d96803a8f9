"""Fixtures shared by the service tests: a paired couple in two time zones."""

from tests.services.test_nudges import couple

__all__ = ["couple"]
