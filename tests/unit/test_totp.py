"""TOTP without a database: which codes `matching_step` accepts, and the enrollment QR code."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from ccm_pwa.auth.totp import (
    ISSUER,
    current_step,
    matching_step,
    new_secret,
    provisioning_uri,
    qr_svg_data_uri,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2026, 3, 10, 14, 0, 5, tzinfo=UTC)  # five seconds into a step
STEP = int(NOW.timestamp()) // 30
# RFC 6238 appendix B (SHA-1): the ASCII seed "12345678901234567890"; the last 6 of 8 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"),
               (1234567890, "005924"), (2000000000, "279037"), (20000000000, "353130")]


def code(step: int, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def test_fixture_codes_are_distinct() -> None:
    """The tests below rely on neighbouring steps having different codes for SECRET."""
    assert len({code(STEP + offset) for offset in range(-3, 4)}) == 7


def test_current_step_counts_thirty_second_steps() -> None:
    assert current_step(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert current_step(datetime(1970, 1, 1, 0, 0, 29, 999999, tzinfo=UTC)) == 0
    assert current_step(datetime(1970, 1, 1, 0, 0, 30, tzinfo=UTC)) == 1
    assert current_step(NOW) == STEP


@pytest.mark.parametrize(("offset", "expected"), [
    pytest.param(0, 0, id="current"),
    pytest.param(-1, -1, id="previous"),
    pytest.param(1, None, id="next-future"),
    pytest.param(2, None, id="two-ahead"),
    pytest.param(-2, None, id="two-ago"),
    pytest.param(-20, None, id="ten-minutes-ago"),
])
def test_only_current_and_previous_step_match(offset: int, expected: int | None) -> None:
    result = matching_step(SECRET, code(STEP + offset), NOW)
    assert result == (None if expected is None else STEP + expected)


def test_step_boundaries() -> None:
    start = datetime.fromtimestamp(STEP * 30, UTC)
    last_instant = start + timedelta(seconds=29, microseconds=999999)

    assert matching_step(SECRET, code(STEP - 1), start) == STEP - 1
    assert matching_step(SECRET, code(STEP - 2), start) is None
    assert matching_step(SECRET, code(STEP - 1), last_instant) == STEP - 1
    assert matching_step(SECRET, code(STEP + 1), last_instant) is None
    assert matching_step(SECRET, code(STEP + 1), start + timedelta(seconds=30)) == STEP + 1


@pytest.mark.parametrize(("seconds", "expected"), RFC_VECTORS)
def test_rfc_6238_vectors_including_leading_zeros(seconds: int, expected: str) -> None:
    when = datetime.fromtimestamp(seconds, UTC)

    assert matching_step(RFC_SECRET, expected, when) == seconds // 30
    assert matching_step(RFC_SECRET, expected, when + timedelta(seconds=30)) == seconds // 30
    assert matching_step(RFC_SECRET, expected, when + timedelta(seconds=60)) is None


@pytest.mark.parametrize(("seconds", "expected"), [v for v in RFC_VECTORS if v[1][0] == "0"])
def test_leading_zeros_are_required(seconds: int, expected: str) -> None:
    when = datetime.fromtimestamp(seconds, UTC)

    assert matching_step(RFC_SECRET, expected.lstrip("0"), when) is None
    assert matching_step(RFC_SECRET, expected.lstrip("0").rjust(6), when) is None


def test_spaces_inside_and_around_the_code_are_ignored() -> None:
    digits = code(STEP)

    assert matching_step(SECRET, f"{digits[:3]} {digits[3:]}", NOW) == STEP
    assert matching_step(SECRET, f"  {digits}\n", NOW) == STEP
    assert matching_step(SECRET, f"\t{digits[:3]}  {digits[3:]} ", NOW) == STEP
    assert matching_step(SECRET, " ".join(digits), NOW) == STEP


def _fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def _arabic_indic(digits: str) -> str:
    return "".join(chr(0x0660 + int(d)) for d in digits)


@pytest.mark.parametrize("make", [
    pytest.param(lambda c: "", id="empty"),
    pytest.param(lambda c: "      ", id="blank"),
    pytest.param(lambda c: c[:5], id="five-digits"),
    pytest.param(lambda c: c + "0", id="seven-digits"),
    pytest.param(lambda c: "0" + c, id="seven-with-leading-zero"),
    pytest.param(lambda c: c[:5] + "a", id="letter"),
    pytest.param(lambda c: "abcdef", id="letters"),
    pytest.param(lambda c: c[:3] + "-" + c[3:], id="dash-inside"),
    pytest.param(lambda c: "+" + c[1:], id="sign"),
    pytest.param(lambda c: c[:5] + ".", id="dot"),
    pytest.param(lambda c: c[:3] + "\t" + c[3:], id="tab-inside"),
    pytest.param(lambda c: _fullwidth(c), id="fullwidth-digits"),
    pytest.param(lambda c: _arabic_indic(c), id="arabic-indic-digits"),
    pytest.param(lambda c: c[:5] + "\u00b2", id="superscript-two"),
])
def test_malformed_codes_never_match(make) -> None:
    """Refused quietly (None), never with an exception a route would turn into a 500."""
    assert matching_step(SECRET, make(code(STEP)), NOW) is None


def test_another_secrets_code_does_not_match() -> None:
    other = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    assert code(STEP, other) not in {code(STEP), code(STEP - 1)}
    assert matching_step(SECRET, code(STEP, other), NOW) is None
    assert matching_step(other, code(STEP, other), NOW) == STEP


def test_aware_non_utc_time_gives_the_same_answer() -> None:
    chicago = NOW.astimezone(timezone(timedelta(hours=-6)))

    assert matching_step(SECRET, code(STEP), chicago) == STEP
    assert current_step(chicago) == STEP


def test_naive_time_is_refused() -> None:
    """A naive datetime would be read as server-local time and shift the step (B28)."""
    with pytest.raises(ValueError, match="naive"):
        matching_step(SECRET, code(STEP), NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        current_step(NOW.replace(tzinfo=None))


def test_new_secret_is_160_random_bits_in_base32() -> None:
    secrets = {new_secret() for _ in range(20)}

    assert len(secrets) == 20
    for secret in secrets:
        assert len(secret) == 32
        assert len(base64.b32decode(secret)) == 20  # 160 bits


def test_provisioning_uri_names_issuer_account_and_secret() -> None:
    uri = provisioning_uri(SECRET, "cm.a@example.org")

    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert unquote(parsed.path) == f"/{ISSUER}:cm.a@example.org"
    query = parse_qs(parsed.query)
    assert query["secret"] == [SECRET]
    assert query["issuer"] == [ISSUER]


def test_qr_svg_data_uri_is_an_inline_svg() -> None:
    uri = qr_svg_data_uri(provisioning_uri(SECRET, "cm.a@example.org"))

    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    svg = base64.b64decode(uri[len(prefix):], validate=True).decode()
    assert svg.lstrip().startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    assert int(float(root.attrib["width"])) > 100
    assert SECRET not in svg  # the seed is only in the drawn modules, not in text


def test_qr_code_differs_per_secret() -> None:
    first = qr_svg_data_uri(provisioning_uri(SECRET, "cm.a@example.org"))
    second = qr_svg_data_uri(provisioning_uri(new_secret(), "cm.a@example.org"))
    assert first != second
