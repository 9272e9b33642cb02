"""HTTP API under /api/v1 (FastAPI), mounted into the Reflex backend."""
