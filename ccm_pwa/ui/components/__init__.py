"""Reusable pieces of the user interface."""
