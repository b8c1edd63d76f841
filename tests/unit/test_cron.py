"""`schedule.cron` and `retention.compact_cron` are checked when the config is read (issue 22): a string
Dagster cannot schedule used to pass `check-config` and then fail the definitions with a traceback."""

import pytest
from dagster._utils.schedules import is_valid_cron_string

from connectors.config import check_cron, parse_config
from connectors.core.errors import ConfigError

ACCEPTED = ["0 2 * * *", "*/15 * * * *", "0 2 * * mon-fri", "0 2 29 2 *", "0 2 * * 7", "0 2 L * *", "0 2 * * 5#3",
            "0 2 * * L5", "@daily", "0 2 * jan,jul *", "0 0 28-31 2 *", "0-59/5 * * * *", "0 22-2 * * *",
            "0 2 ? * *", "0 2 * * SUN", "30  3 * * 1-5"]


@pytest.mark.parametrize("cron", ACCEPTED)
def test_what_dagster_schedules_is_accepted(cron):
    assert is_valid_cron_string(" ".join(cron.split()))  # the reference: Dagster's own check
    assert check_cron(cron) == " ".join(cron.split())


@pytest.mark.parametrize(("cron", "why"), [
    ("every night", "'every night' is not a cron expression: write five fields"),
    ("0 2 * *", "'0 2 * *' is not a cron expression"),
    ("0 2 * * * *", "'0 2 * * * *' is not a cron expression"),
    ("61 2 * * *", "the minute field '61': 61 is outside 0-59"),
    ("0 24 * * *", "the hour field '24': 24 is outside 0-23"),
    ("0 2 0 * *", "the day of month field '0': 0 is outside 1-31"),
    ("0 2 * 13 *", "the month field '13': 13 is outside 1-12"),
    ("0 2 * * 8", "the day of week field '8': 8 is outside 0-7"),
    ("0 2 * * fri#6", "'#6' names no week of the month (1-5)"),
    ("*/0 * * * *", "the step '/0' is not a positive number"),
    ("0 2 * smarch *", "'smarch' is not a number or a name"),
    ("0 2 31 2 *", "names February 31, which never comes"),
])
def test_what_no_schedule_can_run_is_refused_saying_why(cron, why):
    with pytest.raises(ValueError) as caught:
        check_cron(cron)
    assert why in str(caught.value)
    if "February" not in why:
        assert not is_valid_cron_string(cron)


def test_check_config_names_the_field_and_the_fix():
    with pytest.raises(ConfigError) as caught:
        parse_config({"schedule": {"cron": "every night"}, "retention": {"compact_cron": "0 4 * * 9"}}, env={})
    message = str(caught.value)
    assert "schedule" in message and "'every night' is not a cron expression" in message
    assert "compact_cron" in message and "the day of week field '9': 9 is outside 0-7" in message
