"""Jobs a practice's IT person runs from the command line: backups and restores.

Kept apart from `services` (what the app does for care managers) because these jobs act on
the whole database and its files, run while the app is stopped or beside it, and answer to
the HIPAA checklist (backups no older than 48 hours, a restore drill) rather than to users.
"""
