"""`ccm-pwa demo`: load the demo practice and print its sign-ins."""

from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from ccm_pwa.db import session_scope
from ccm_pwa.models import Practice
from ccm_pwa.services.demo_practice import DEMO_TIMEZONE, create_demo_practice


def run_demo(args: argparse.Namespace) -> int:
    today = args.today or datetime.now(ZoneInfo(DEMO_TIMEZONE)).date()
    with session_scope() as session:
        if args.if_empty and session.exec(select(Practice)).first() is not None:
            print("demo: the database already has a practice; left as it is")
            return 0
        result = create_demo_practice(session=session, patients=args.patients,
                                      care_managers=args.care_managers, seed=args.seed,
                                      today=today)
    print(f"demo practice loaded: {result.patients} patients, {result.time_entries} time "
          f"entries (seed {args.seed}, today {today.isoformat()})")
    print("demo sign-ins (email / password / TOTP secret):")
    for login in result.logins:
        print(f"  {login.role:<13} {login.email:<34} {login.password}  {login.totp_secret}")
    return 0
