"""`ccm-pwa reminders run|keys`: the reminder job once from the command line (for cron)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from ccm_pwa.push.scheduler import run_due
from ccm_pwa.push.vapid import load_vapid


def parse_now(text: str) -> datetime:
    """`--now`: ISO-8601 with an offset (UTC assumed without one), for trying a schedule."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 time like 2026-11-10T09:05-06:00: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_reminders(args: argparse.Namespace) -> int:
    now = args.now or datetime.now(UTC)
    planned = run_due(now=now, dry_run=args.dry_run)
    mode = "due (dry run, nothing sent)" if args.dry_run else "processed"
    print(f"reminders {mode} at {now.isoformat()}: {len(planned)}")
    for item in planned:
        r = item.reminder
        where = f"{item.devices} device(s)"
        if not args.dry_run:
            outcomes = ", ".join(item.outcomes) or "-"
            where += f", {item.status}: {outcomes}"
        print(f"  {item.email:<32} {r.kind:<14} {r.urgency:<6} ttl={r.ttl_seconds:>5}s  "
              f"{r.title} | {r.body}  [{where}]")
    return 0


def print_keys(_args: argparse.Namespace) -> int:
    keys = load_vapid()
    print(f"public key (applicationServerKey): {keys.public_key}")
    print(f"subject:                           {keys.subject}")
    sys.stdout.flush()
    return 0
