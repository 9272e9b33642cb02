"""Reflex user interface: pages, components and one state per screen."""
