"""`ccm-pwa user grant|revoke --email EMAIL --practice NAME`: a role in a further practice
of her organisation (services/practice_roles.py), from the command line.

Exit status: 0 done; 2 bad input (one line on stderr: unknown email or practice, another
organisation, her own practice, a supervisor who is not one there…).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlmodel import Session, select

from ccm_pwa.cli.billing_reports import _cli_client, _fail
from ccm_pwa.db import session_scope
from ccm_pwa.models import Role, User
from ccm_pwa.services.practice_roles import PracticeRoleError, grant_role, revoke_role
from ccm_pwa.services.practices import PracticeError, choose_practice


def run_grant(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            user = _user(session, args.email)
            practice = choose_practice(session=session, name=args.practice)
            supervisor = _user(session, args.supervisor) if args.supervisor else None
            grant_role(session=session, user=user, practice=practice, role=Role(args.role),
                       supervisor=supervisor, now=datetime.now(UTC), client=_cli_client())
            print(f"{user.email} is {args.role} in {practice.name}"
                  + (f", supervised by {supervisor.email}" if supervisor else ""))
    except (PracticeRoleError, PracticeError) as exc:
        return _fail(str(exc))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            user = _user(session, args.email)
            practice = choose_practice(session=session, name=args.practice)
            revoked = revoke_role(session=session, user=user, practice=practice,
                                  now=datetime.now(UTC), client=_cli_client())
            print(f"{user.email} no longer has a role in {practice.name}")
            if revoked.still_assigned:
                print(f"{revoked.still_assigned} of its patients are still assigned to her: "
                      "an admin of the practice should give them another care manager")
    except (PracticeRoleError, PracticeError) as exc:
        return _fail(str(exc))
    return 0


def _user(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise PracticeRoleError(f"no user with email {email}")
    return user
