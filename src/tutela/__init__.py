"""Tutela: makes a privacy policy true, enforces it and proves it."""

__version__ = "0.1.0"
