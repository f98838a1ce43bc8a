"""The send decision: opt-outs, quiet hours (Asia/Shanghai), the daily cap, critical bypass."""

from __future__ import annotations

from datetime import datetime, time, timezone
from types import SimpleNamespace

import pytest

from app.push.domain import Preferences, QuietHours, Status, backoff_seconds, decide, in_region_scope, \
    is_permanent_http_failure, lapsed, local_day_start, next_digest_at

DEFAULT_QUIET = QuietHours(time(21), time(8))
PREFS = Preferences(quiet_hours=DEFAULT_QUIET, daily_cap=3)


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def shanghai_noon():
    return utc(2026, 11, 25, 4, 0)  # 12:00 in Shanghai


def test_an_ordinary_message_at_noon_is_queued():
    d = decide(category="tax_relief", critical=False, channel="inbox", prefs=PREFS, now=shanghai_noon(), sent_today=0)
    assert d.status is Status.QUEUED and d.reason is None


@pytest.mark.parametrize("prefs, reason", [
    (Preferences(opt_out_categories=frozenset({"training"})), "opted_out_category"),
    (Preferences(opt_out_channels=frozenset({"webhook"})), "opted_out_channel"),
])
def test_opted_out_messages_are_suppressed_with_the_reason(prefs, reason):
    d = decide(category="training", critical=False, channel="webhook", prefs=prefs, now=shanghai_noon(), sent_today=0)
    assert d.status is Status.SUPPRESSED and d.reason == reason


def test_at_2130_shanghai_a_message_waits_until_0800_shanghai():
    now = utc(2026, 11, 25, 13, 30)  # 21:30 in Shanghai
    d = decide(category="tax_relief", critical=False, channel="inbox", prefs=PREFS, now=now, sent_today=0)
    assert d.status is Status.MATCHED and d.reason == "quiet_hours" and d.due_at == utc(2026, 11, 26, 0, 0)


def test_after_midnight_the_wait_ends_the_same_morning():
    now = utc(2026, 11, 25, 17, 0)  # 01:00 on the 26th in Shanghai
    assert DEFAULT_QUIET.ends_after(now) == utc(2026, 11, 26, 0, 0)


def test_0800_shanghai_is_no_longer_quiet():
    assert DEFAULT_QUIET.ends_after(utc(2026, 11, 26, 0, 0)) is None


def test_a_daytime_window_that_does_not_span_midnight_works_too():
    lunch = QuietHours(time(12), time(13))
    assert lunch.ends_after(shanghai_noon()) == utc(2026, 11, 25, 5, 0)
    assert lunch.ends_after(utc(2026, 11, 25, 6, 0)) is None


def test_over_the_daily_cap_a_message_is_held_for_the_next_mornings_digest():
    d = decide(category="tax_relief", critical=False, channel="inbox", prefs=PREFS, now=shanghai_noon(), sent_today=3)
    assert d.status is Status.HELD and d.reason == "daily_cap" and d.due_at == utc(2026, 11, 26, 0, 0)


def test_critical_messages_bypass_everything_and_say_what_they_bypassed():
    prefs = Preferences(opt_out_categories=frozenset({"credit_repair"}), opt_out_channels=frozenset({"inbox"}),
                        quiet_hours=DEFAULT_QUIET, daily_cap=1)
    d = decide(category="credit_repair", critical=True, channel="inbox", prefs=prefs, now=utc(2026, 11, 25, 15, 0),
               sent_today=5)
    assert d.status is Status.QUEUED and d.reason == "critical_bypass"
    assert d.bypassed == ("opted_out_channel", "opted_out_category", "quiet_hours", "daily_cap")


def test_the_cap_counts_from_local_midnight():
    assert local_day_start(utc(2026, 11, 25, 17, 0)) == utc(2026, 11, 25, 16, 0)  # 01:00 on the 26th local


def test_digest_goes_out_at_the_end_of_the_taxpayers_own_quiet_hours():
    prefs = Preferences(quiet_hours=QuietHours(time(22), time(7, 30)))
    assert next_digest_at(shanghai_noon(), prefs) == utc(2026, 11, 25, 23, 30)


def test_backoff_grows_and_then_repeats_its_last_step():
    assert [backoff_seconds(n, (30, 120, 600)) for n in (1, 2, 3, 4, 9)] == [30, 120, 600, 600, 600]


@pytest.mark.parametrize("status, permanent", [(400, True), (404, True), (408, False), (429, False), (500, False),
                                               (503, False)])
def test_only_client_errors_other_than_timeouts_and_throttling_are_permanent(status, permanent):
    assert is_permanent_http_failure(status) is permanent


def test_quiet_hours_parse_and_reject_garbage():
    assert QuietHours.parse("21:00-08:00") == DEFAULT_QUIET and QuietHours.parse("") is None
    for garbage in ("9pm-8am", "8:00-21:00", "21:00-24:00", "21:00-08:60", "２１:00-08:00", "21:00-08:00:00"):
        with pytest.raises(ValueError):  # the settings take times as the API does: HH:MM, 00:00–23:59
            QuietHours.parse(garbage)


def test_region_scope_is_a_list_of_prefixes_and_empty_means_everywhere():
    assert in_region_scope("330203", ["3302"]) and in_region_scope(None, [])
    assert not in_region_scope("310101", ["3302"]) and not in_region_scope(None, ["3302"])


@pytest.mark.parametrize("setting, value", [
    ("PUSH_QUIET_HOURS", "9pm"), ("PUSH_QUIET_HOURS", "２１:00-08:00"), ("PUSH_HOLIDAYS", "2026-10-01,2026-13-01"),
    ("PUSH_WEBHOOK_BACKOFF_SECONDS", "30,two minutes"),
])
def test_malformed_push_settings_stop_the_app_with_the_setting_named(tmp_path, setting, value):
    from app.config import ConfigError, load_config
    from app.push.settings import build_push

    config = load_config({"INSTANCE_PATH": str(tmp_path), setting: value})
    with pytest.raises(ConfigError, match=f"SHUIMA_{setting}"):
        build_push(SimpleNamespace(config=config))


def test_a_webhook_url_without_its_signing_secret_stops_the_app(tmp_path):
    from app.config import ConfigError, load_config
    from app.push.settings import build_push

    config = load_config({"INSTANCE_PATH": str(tmp_path), "PUSH_WEBHOOK_URL": "http://gateway.invalid/push"})
    with pytest.raises(ConfigError, match="SHUIMA_PUSH_WEBHOOK_SECRET"):
        build_push(SimpleNamespace(config=config))


def test_waiting_messages_lapse_when_their_policy_is_withdrawn_or_reaches_valid_to():
    end = utc(2026, 11, 25, 16, 0)
    assert lapsed(status="published", valid_to=None, now=end) is None
    assert lapsed(status="published", valid_to=end, now=utc(2026, 11, 25, 15, 59)) is None
    assert lapsed(status="published", valid_to=end, now=end) == "expired"
    assert lapsed(status="withdrawn", valid_to=None, now=end) == "withdrawn"
