"""Test doubles that stand in for external services."""
