"""Sign-in and sign-out over HTTP: cookies, generic failures, setup, cross-site refusal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pyotp
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.recovery import issue_recovery_codes
from ccm_pwa.auth.sign_in import GENERIC_FAILURE
from ccm_pwa.models import Practice, Role, User
from ccm_pwa.services.users import create_user
from tests.api.conftest import ApiServer

PASSWORD = "correct horse battery"


def _enrolled_user(session: Session, email: str = "kim@clinic.example") -> tuple[User, str]:
    practice = Practice(name="Lakeside", timezone="America/Chicago")
    session.add(practice)
    session.flush()
    new = create_user(session=session, practice_id=practice.id, email=email, name="Kim",
                      role=Role.CARE_MANAGER, password=PASSWORD)
    new.user.must_change_password = False
    new.user.totp_enrolled_at = datetime.now(UTC)
    session.commit()
    return new.user, new.totp_secret


def _sign_in(server: ApiServer, email: str, password: str, otp: str,
             **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/session",
                      json={"email": email, "password": password, "otp": otp}, headers=headers)


def test_sign_in_sets_a_strict_httponly_cookie(api_server: ApiServer, session: Session) -> None:
    user, secret = _enrolled_user(session)
    response = _sign_in(api_server, user.email, PASSWORD, pyotp.TOTP(secret).now())
    assert response.status_code == 200
    assert response.json()["needs_setup"] is False
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ccm_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    token = re.match(r"ccm_session=([^;]+)", cookie).group(1)
    assert len(token) >= 43  # 256 bits, url-safe base64
    me = httpx.get(f"{api_server.url}/api/v1/session", cookies={"ccm_session": token})
    assert me.status_code == 200 and me.json()["user"]["email"] == user.email
    assert me.headers["cache-control"] == "no-store"


def test_every_failure_reads_the_same(api_server: ApiServer, session: Session) -> None:
    user, secret = _enrolled_user(session)
    good_code = pyotp.TOTP(secret).now()
    attempts = [(user.email, "wrong password", good_code), (user.email, PASSWORD, "000000"),
                ("nobody@clinic.example", PASSWORD, good_code)]
    for email, password, code in attempts:
        response = _sign_in(api_server, email, password, code)
        assert response.status_code == 401
        assert response.json() == {"error": "unauthenticated", "detail": GENERIC_FAILURE}
        assert "set-cookie" not in response.headers


def test_cross_site_post_is_refused(api_server: ApiServer, session: Session) -> None:
    user, secret = _enrolled_user(session)
    for origin in ("https://evil.example", "null"):
        response = _sign_in(api_server, user.email, PASSWORD, pyotp.TOTP(secret).now(),
                            origin=origin)
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"


def test_sign_out_revokes_and_clears(api_server: ApiServer, session: Session) -> None:
    user, secret = _enrolled_user(session)
    signed_in = _sign_in(api_server, user.email, PASSWORD, pyotp.TOTP(secret).now())
    cookies = {"ccm_session": signed_in.cookies["ccm_session"]}
    out = httpx.delete(f"{api_server.url}/api/v1/session", cookies=cookies)
    assert out.status_code == 204
    assert out.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert 'ccm_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers[
        "set-cookie"]
    assert httpx.get(f"{api_server.url}/api/v1/session", cookies=cookies).status_code == 401


def test_form_sign_in_redirects(api_server: ApiServer, session: Session) -> None:
    user, secret = _enrolled_user(session)
    failed = httpx.post(f"{api_server.url}/api/v1/session/form",
                        data={"email": user.email, "password": "nope", "otp": "123456"})
    assert failed.status_code == 303 and failed.headers["location"] == "/login?failed=1"
    ok = httpx.post(f"{api_server.url}/api/v1/session/form",
                    data={"email": user.email, "password": PASSWORD,
                          "otp": pyotp.TOTP(secret).now()})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "ccm_session=" in ok.headers["set-cookie"]


def test_first_sign_in_goes_through_setup(api_server: ApiServer, session: Session) -> None:
    practice = Practice(name="Lakeside", timezone="America/Chicago")
    session.add(practice)
    session.flush()
    new = create_user(session=session, practice_id=practice.id, email="new@clinic.example",
                      name="New Nurse", role=Role.CARE_MANAGER)
    session.commit()
    first = httpx.post(f"{api_server.url}/api/v1/session/form",
                       data={"email": new.user.email, "password": new.password})
    assert first.status_code == 303 and first.headers["location"] == "/account/setup"
    setup_cookie = {"ccm_session": first.cookies["ccm_session"]}
    form = {"new_password": "a much longer passphrase", "confirm_password":
            "a much longer passphrase", "otp": "000000"}
    wrong = httpx.post(f"{api_server.url}/api/v1/session/setup", data=form, cookies=setup_cookie)
    assert wrong.status_code == 303
    assert wrong.headers["location"] == "/account/setup?problem=code"
    form["otp"] = pyotp.TOTP(new.totp_secret).now()
    done = httpx.post(f"{api_server.url}/api/v1/session/setup", data=form, cookies=setup_cookie)
    assert done.status_code == 200
    codes = re.findall(r"<code>([A-Z2-9-]+)</code>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert done.headers["cache-control"] == "no-store"
    new_cookie = {"ccm_session": done.cookies["ccm_session"]}
    assert httpx.get(f"{api_server.url}/api/v1/session", cookies=setup_cookie).status_code == 401
    me = httpx.get(f"{api_server.url}/api/v1/session", cookies=new_cookie)
    assert me.status_code == 200 and me.json()["needs_setup"] is False
    session.expire_all()
    stored = session.exec(select(User).where(User.email == new.user.email)).one()
    assert stored.totp_enrolled_at is not None and not stored.must_change_password


def test_security_headers_on_api_responses(api_server: ApiServer) -> None:
    response = httpx.get(f"{api_server.url}/api/v1/health")
    csp = response.headers["content-security-policy"]
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


def test_password_change_signs_out_other_devices(api_server: ApiServer,
                                                 session: Session) -> None:
    user, secret = _enrolled_user(session)
    # Recovery codes stand in for further TOTP codes: each TOTP step is accepted only once.
    spare = issue_recovery_codes(session=session, user_id=user.id)
    session.commit()
    phone = _sign_in(api_server, user.email, PASSWORD, pyotp.TOTP(secret).now())
    laptop = _sign_in(api_server, user.email, PASSWORD, spare[0])
    phone_cookie = {"ccm_session": phone.cookies["ccm_session"]}
    laptop_cookie = {"ccm_session": laptop.cookies["ccm_session"]}
    form = {"current_password": "not it", "otp": "123456", "new_password": "brand new secret 7",
            "confirm_password": "brand new secret 7"}
    refused = httpx.post(f"{api_server.url}/api/v1/session/password", data=form,
                         cookies=phone_cookie)
    assert refused.headers["location"] == "/account?problem=current"
    form.update(current_password=PASSWORD, otp=spare[1])
    changed = httpx.post(f"{api_server.url}/api/v1/session/password", data=form,
                         cookies=phone_cookie)
    assert changed.status_code == 303 and changed.headers["location"] == "/account?changed=1"
    new_cookie = {"ccm_session": changed.cookies["ccm_session"]}
    for old in (phone_cookie, laptop_cookie):
        assert httpx.get(f"{api_server.url}/api/v1/session", cookies=old).status_code == 401
    assert httpx.get(f"{api_server.url}/api/v1/session", cookies=new_cookie).status_code == 200
    again = _sign_in(api_server, user.email, "brand new secret 7", spare[2])
    assert again.status_code == 200
    everywhere = httpx.post(f"{api_server.url}/api/v1/session/sign-out-everywhere",
                            cookies=new_cookie)
    assert everywhere.status_code == 303
    assert httpx.get(f"{api_server.url}/api/v1/session", cookies=new_cookie).status_code == 401
    assert httpx.get(f"{api_server.url}/api/v1/session",
                     cookies={"ccm_session": again.cookies["ccm_session"]}).status_code == 401


@pytest.mark.server_env(CCM_TRUSTED_PROXIES="127.0.0.1,::1")
def test_behind_the_tls_proxy_responses_carry_hsts(api_server: ApiServer) -> None:
    """The app listens on loopback behind nginx/Caddy, named in CCM_TRUSTED_PROXIES as the
    deploy guide does: the proxy's X-Forwarded-Proto makes the request https (HSTS, Secure
    cookies); without it nothing claims https."""
    behind = httpx.get(f"{api_server.url}/api/v1/health",
                       headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"})
    assert behind.headers["strict-transport-security"].startswith("max-age=31536000")
    plain = httpx.get(f"{api_server.url}/api/v1/health")
    assert "strict-transport-security" not in plain.headers


def test_a_replayed_code_is_audited_with_address_and_user_agent(api_server: ApiServer,
                                                                session: Session) -> None:
    """The replay row is the lead to whoever holds the password and a used code: it names
    the address and user agent as the sign-in failure of the same request does."""
    from ccm_pwa.models import AuditEvent

    user, secret = _enrolled_user(session)
    code = pyotp.TOTP(secret).now()
    first = _sign_in(api_server, user.email, PASSWORD, code, **{"user-agent": "phone/1"})
    assert first.status_code == 200
    replayed = _sign_in(api_server, user.email, PASSWORD, code, **{"user-agent": "replayer/2"})
    assert replayed.status_code == 401

    def rows(action: str) -> list[AuditEvent]:
        session.expire_all()
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)
                                 .order_by(AuditEvent.occurred_at)))

    [replay] = rows("totp.replay")
    assert replay.user_id == user.id and replay.outcome == "failure"
    assert replay.client == "ip=127.0.0.1 ua=replayer/2"
    [failure] = [e for e in rows("sign_in") if e.outcome == "failure"]
    assert failure.detail["why"] == "bad_code" and failure.client == replay.client

    # the same code again, to re-authenticate a password change: audited as a replay too
    form = {"current_password": PASSWORD, "otp": code, "new_password": "brand new secret 7",
            "confirm_password": "brand new secret 7"}
    refused = httpx.post(f"{api_server.url}/api/v1/session/password", data=form,
                         headers={"user-agent": "changer/3"},
                         cookies={"ccm_session": first.cookies["ccm_session"]})
    assert refused.headers["location"] == "/account?problem=current"
    replay = rows("totp.replay")[-1]
    [change] = rows("password.change")
    assert change.outcome == "failure" and "ua=changer/3" in replay.client
    assert replay.client == change.client
