"""The signature check: what proves Stripe sent a body, and every way a request fails it."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.signature import (
    FutureTimestamp,
    MalformedSignature,
    MissingSignature,
    NoMatchingSignature,
    SignatureError,
    StaleTimestamp,
    expected_signature,
    parse_header,
    verify,
)

BODY = b'{"id":"evt_1","object":"event"}'
SECRET = "whsec_current"
NOW = 1_750_000_000


def header(*secrets: str, t: int = NOW, body: bytes = BODY) -> str:
    parts = [f"t={t}"] + [f"v1={expected_signature(s, t, body)}" for s in secrets]
    return ",".join(parts)


def check(value: str | None, secrets: tuple[str, ...] = (SECRET,), body: bytes = BODY) -> int:
    return verify(body, value, secrets, tolerance_s=300, now=NOW)


def test_a_body_signed_with_our_secret_is_accepted() -> None:
    assert check(header(SECRET)) == NOW


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(NoMatchingSignature) as caught:
        check(header("whsec_someone_else"))
    assert caught.value.reason == "bad_signature"


def test_a_changed_body_is_refused() -> None:
    with pytest.raises(NoMatchingSignature):
        check(header(SECRET), body=BODY + b" ")


def test_during_rotation_either_of_our_secrets_is_accepted() -> None:
    secrets = ("whsec_old", "whsec_new")
    assert check(header("whsec_old"), secrets) == NOW
    assert check(header("whsec_new"), secrets) == NOW


def test_any_of_several_v1_signatures_may_match() -> None:
    # given Stripe rolling its secret: one v1 per secret, only the second is ours
    value = header("whsec_stripe_side_old", SECRET)
    assert check(value) == NOW


def test_other_schemes_are_ignored_not_trusted() -> None:
    v0 = expected_signature(SECRET, NOW, BODY)
    with pytest.raises(MalformedSignature):
        check(f"t={NOW},v0={v0}")


@pytest.mark.parametrize("age", [301, 10_000])
def test_a_stale_signature_is_refused(age: int) -> None:
    with pytest.raises(StaleTimestamp) as caught:
        check(header(SECRET, t=NOW - age))
    assert caught.value.reason == "stale_timestamp"


@pytest.mark.parametrize("ahead", [301, 10_000])
def test_a_future_dated_signature_is_refused(ahead: int) -> None:
    with pytest.raises(FutureTimestamp) as caught:
        check(header(SECRET, t=NOW + ahead))
    assert caught.value.reason == "future_timestamp"


@pytest.mark.parametrize("skew", [-300, -1, 1, 300])
def test_clock_skew_within_the_tolerance_is_accepted(skew: int) -> None:
    assert check(header(SECRET, t=NOW + skew)) == NOW + skew


def test_the_clock_is_not_checked_for_forgeries() -> None:
    # A forged stale request says "bad signature", not how far off our clock is.
    with pytest.raises(NoMatchingSignature):
        check(header("whsec_forger", t=NOW - 10_000))


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_header_is_refused(value: str | None) -> None:
    with pytest.raises(MissingSignature) as caught:
        check(value)
    assert caught.value.reason == "missing_signature"


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        f"v1={'0' * 64}",
        f"t={NOW}",
        f"t=yesterday,v1={'0' * 64}",
        f"t=-5,v1={'0' * 64}",
        "t=" + "1" * 5000,
    ],
)
def test_a_malformed_header_is_refused(value: str) -> None:
    with pytest.raises(MalformedSignature) as caught:
        check(value)
    assert caught.value.reason == "malformed_signature"


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(NoMatchingSignature):
        check(header(SECRET), secrets=())


def test_the_parser_keeps_every_v1() -> None:
    parsed = parse_header("t=5, v1=aa ,v1=bb,v0=cc")
    assert parsed.timestamp == 5
    assert parsed.signatures == (b"aa", b"bb")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(
            st.tuples(
                st.sampled_from(["t", "v1", "v0", "", " t", "T"]),
                st.sampled_from(["=", "==", ""]),
                st.one_of(
                    st.text(max_size=30),
                    # superscripts and other scripts' digits: `str.isdigit` says yes to them
                    st.text(alphabet="0123456789\u00b2\u00b3\u0661\u0665\u0d67\u0966", max_size=30),
                    st.integers().map(str),
                ),
            ),
            max_size=6,
        ).map(lambda items: ",".join(k + s + v for k, s, v in items)),
        st.text(min_size=4000, max_size=5000),
    )
)
def test_any_header_is_refused_as_a_signature_error_never_a_crash(header: str) -> None:
    with contextlib.suppress(SignatureError):
        verify(b"{}", header, ["whsec_test"], tolerance_s=300, now=1_700_000_000)
