"""Builders shared by the test modules: worlds, books and helpers; no tests here."""
