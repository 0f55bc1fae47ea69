"""A function's settings come from its own environment, which holds only what its code reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from genjobs.settings import MissingSetting, Settings


def test_a_function_starts_with_only_the_settings_it_is_given() -> None:
    # GIVEN the notifier's environment: the jobs table and the events topic, nothing of the API's
    settings = Settings.model_validate(
        {"TABLE_NAME": "jobs", "JOB_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:events"}
    )

    # THEN what it was given and the tunables' defaults are there
    assert settings.table_name == "jobs"
    assert settings.max_consecutive_poll_errors == 10
    # AND a resource it was not given fails where it is read, naming the variable to add
    with pytest.raises(MissingSetting, match="IDEMPOTENCY_TABLE_NAME is not in this function's environment"):
        _ = settings.idempotency_table_name


def test_what_a_function_is_given_is_still_validated_at_cold_start() -> None:
    # GIVEN an environment whose sweep back-off would outlast the task heartbeat
    environment = {"TABLE_NAME": "jobs", "SWEEP_BACKOFF_MAX_SECONDS": "3600"}

    # THEN the function fails at cold start, not at its first sweep
    with pytest.raises(ValidationError, match="SWEEP_BACKOFF_MAX_SECONDS must be below"):
        Settings.model_validate(environment)
