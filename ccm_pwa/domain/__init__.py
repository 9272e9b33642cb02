"""Pure domain rules (billing, progress, calendar): no Reflex, no database."""
