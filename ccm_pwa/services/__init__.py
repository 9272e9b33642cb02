"""Use cases as plain functions with a keyword-only `session`; no Reflex, no HTTP."""
