"""`ccm-pwa demo`: load the demo organisation and print its sign-ins, practice by practice."""

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
        partner = (args.patients // 4 if args.partner_patients is None
                   else args.partner_patients)
        result = create_demo_practice(session=session, patients=args.patients,
                                      care_managers=args.care_managers, seed=args.seed,
                                      today=today, partner_patients=partner)
    practices = list(dict.fromkeys(login.practice for login in result.logins))
    print(f"demo loaded: {len(practices)} practice{'s' if len(practices) > 1 else ''}, "
          f"{result.patients} patients, {result.time_entries} time entries "
          f"(seed {args.seed}, today {today.isoformat()})")
    for practice in practices:
        print(f"{practice} sign-ins (role / email / password / TOTP secret):")
        for login in (x for x in result.logins if x.practice == practice):
            also = f"  (also {login.also})" if login.also else ""
            print(f"  {login.role:<13} {login.email:<34} {login.password}  "
                  f"{login.totp_secret}{also}")
    return 0
