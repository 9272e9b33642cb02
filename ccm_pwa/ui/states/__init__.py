"""Reflex states shared by several screens."""
