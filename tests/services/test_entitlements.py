"""The entitlement rules as pure functions: trial, paid periods, grace, refunds, re-pairing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.billing import payments as billing
from bot.billing.entitlements import (
    DEFAULT_GATED,
    TRIAL,
    Cover,
    State,
    access_at,
    allows,
    paid_through,
    trial_days_left,
    trial_window,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=400 * 24 * 3600).map(
    lambda seconds: EPOCH + timedelta(seconds=seconds)
)
graces = st.integers(min_value=0, max_value=72).map(lambda hours: timedelta(hours=hours))


@st.composite
def covers(draw: st.DrawFn) -> Cover:
    paid_until = draw(instants)
    ended = draw(st.none() | instants)
    return Cover(
        subscription_id=draw(st.integers(min_value=1, max_value=10_000)),
        payer_id=draw(st.integers(min_value=1, max_value=3)),
        paid_until=paid_until,
        renewing=draw(st.booleans()),
        ended_at=ended,
    )


def _access(start: datetime, cover_list: list[Cover], now: datetime, grace: timedelta) -> State:
    return access_at(
        trial_couple_id=1, trial_started_at=start, covers=cover_list, now=now, grace=grace
    ).state


@given(start=instants, offset=st.integers(min_value=0, max_value=7 * 24 * 3600 - 1))
def test_the_first_seven_days_are_always_open(start: datetime, offset: int) -> None:
    now = start + timedelta(seconds=offset)
    access = access_at(trial_couple_id=1, trial_started_at=start, covers=[], now=now)
    assert access.state is State.TRIAL and access.entitled
    assert 1 <= trial_days_left(access, now) <= 7


@given(start=instants, after=st.integers(min_value=0, max_value=90 * 24 * 3600))
def test_without_a_subscription_the_trial_ends_after_seven_days(
    start: datetime, after: int
) -> None:
    now = start + TRIAL + timedelta(seconds=after)
    access = access_at(trial_couple_id=1, trial_started_at=start, covers=[], now=now)
    assert access.state is State.LAPSED and not access.entitled
    assert access.lapsed_at == start + TRIAL and access.lapsed_with_trial
    assert trial_days_left(access, now) == 0


@given(starts=st.lists(instants, min_size=1, max_size=6), later=instants)
def test_pairing_again_never_starts_another_trial(starts: list[datetime], later: datetime) -> None:
    first_start, first_end = trial_window(starts)
    assert first_start == min(starts) and first_end == min(starts) + TRIAL
    # Another couple of the same two people, at any time after their first: same trial.
    assert trial_window([*starts, max(later, min(starts))]) == (first_start, first_end)


@given(
    start=instants,
    existing=st.lists(covers(), max_size=4),
    extra=covers(),
    now=instants,
    grace=graces,
)
def test_a_subscription_never_takes_access_away(
    start: datetime, existing: list[Cover], extra: Cover, now: datetime, grace: timedelta
) -> None:
    before = _access(start, existing, now, grace)
    after = _access(start, [*existing, extra], now, grace)
    if before is not State.LAPSED:
        assert after is not State.LAPSED


@given(cover=covers(), now=instants, grace=graces)
def test_paid_access_lasts_exactly_until_the_paid_end_plus_grace_while_renewing(
    cover: Cover, now: datetime, grace: timedelta
) -> None:
    cover = Cover(cover.subscription_id, cover.payer_id, cover.paid_until, cover.renewing)
    access = access_at(
        trial_couple_id=1,
        trial_started_at=now - 2 * TRIAL,  # trial long over: only the subscription counts
        covers=[cover],
        now=now,
        grace=grace,
    )
    end = cover.paid_until + (grace if cover.renewing else timedelta(0))
    assert (access.state is State.PAID) == (now < end)
    if access.state is State.LAPSED:
        assert access.lapsed_at == max(end, now - TRIAL)


@given(cover=covers(), refunded_at=instants, now=instants, grace=graces)
def test_a_refund_ends_access_at_the_moment_of_the_refund(
    cover: Cover, refunded_at: datetime, now: datetime, grace: timedelta
) -> None:
    refunded = Cover(
        cover.subscription_id, cover.payer_id, cover.paid_until, cover.renewing, refunded_at
    )
    state = _access(now - 2 * TRIAL, [refunded], now, grace)
    if now >= refunded_at:
        assert state is State.LAPSED


@given(start=instants, cover_list=st.lists(covers(), max_size=4), now=instants, grace=graces)
def test_a_lapse_is_dated_no_earlier_than_the_trial_end_and_never_in_the_future(
    start: datetime, cover_list: list[Cover], now: datetime, grace: timedelta
) -> None:
    access = access_at(
        trial_couple_id=1, trial_started_at=start, covers=cover_list, now=now, grace=grace
    )
    if access.state is State.LAPSED:
        assert access.lapsed_at is not None
        assert start + TRIAL <= access.lapsed_at <= now
    else:
        assert access.lapsed_at is None


@given(
    start=instants,
    cover_list=st.lists(covers(), max_size=4),
    now=instants,
    feature=st.sampled_from(["nudges", "checkins", "articles", "paid_videos", "settings"]),
    gated=st.frozensets(st.sampled_from(sorted(DEFAULT_GATED))),
)
def test_features_that_are_not_gated_are_always_open(
    start: datetime,
    cover_list: list[Cover],
    now: datetime,
    feature: str,
    gated: frozenset[str],
) -> None:
    access = access_at(trial_couple_id=1, trial_started_at=start, covers=cover_list, now=now)
    assert allows(access, feature, gated) == (feature not in gated or access.entitled)
    if feature == "settings":
        assert allows(access, feature, DEFAULT_GATED)


@given(periods=st.lists(st.tuples(instants, st.booleans()), max_size=6))
def test_paid_through_ignores_refunded_charges(periods: list[tuple[datetime, bool]]) -> None:
    kept = [end for end, refunded in periods if not refunded]
    assert paid_through(periods) == (max(kept) if kept else None)


terms = st.builds(
    billing.InvoiceTerms,
    couple_id=st.integers(min_value=1, max_value=2**31 - 1),
    payer_id=st.integers(min_value=1, max_value=2**53),
    amount=st.integers(min_value=1, max_value=10_000),
    expires_at=instants.map(lambda at: at.replace(microsecond=0)),
    nonce=st.from_regex(r"\A[A-Za-z0-9_-]{12}\Z"),
)
keys = st.binary(min_size=32, max_size=32)


@given(terms=terms, key=keys)
def test_a_signed_payload_reads_back_and_fits_telegram(
    terms: billing.InvoiceTerms, key: bytes
) -> None:
    payload = billing.sign(terms, key)
    assert len(payload.encode()) <= billing.PAYLOAD_MAX_BYTES
    assert billing.read_payload(payload, key) == terms


@given(terms=terms, key=keys, other=keys, data=st.data())
def test_a_tampered_or_foreign_payload_is_refused(
    terms: billing.InvoiceTerms, key: bytes, other: bytes, data: st.DataObject
) -> None:
    payload = billing.sign(terms, key)
    index = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    replacement = data.draw(
        st.sampled_from("0123456789abcXYZ._-").filter(lambda c: c != payload[index])
    )
    tampered = payload[:index] + replacement + payload[index + 1 :]
    assert billing.read_payload(tampered, key) is None
    if other != key:
        assert billing.read_payload(payload, other) is None


def test_the_default_signing_key_comes_from_the_token_and_a_secret_wins() -> None:
    from_token = billing.signing_key(None, "1:abc")
    assert from_token == billing.signing_key(None, "1:abc")
    assert from_token != billing.signing_key(None, "1:abd")
    assert billing.signing_key("x" * 32, "1:abc") != from_token
