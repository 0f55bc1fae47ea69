"""Environment settings, validated once per cold start. Nothing else reads os.environ."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stage: str = Field(alias="STAGE")
    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    output_bucket: str = Field(alias="OUTPUT_BUCKET")
    submit_queue_url: str = Field(alias="SUBMIT_QUEUE_URL")
    job_events_topic_arn: str = Field(alias="JOB_EVENTS_TOPIC_ARN")
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN")
    provider_secret_arn: str = Field(default="", alias="PROVIDER_SECRET_ARN")
    fcm_platform_application_arn: str = Field(default="", alias="FCM_PLATFORM_APPLICATION_ARN")
    apns_platform_application_arn: str = Field(default="", alias="APNS_PLATFORM_APPLICATION_ARN")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    simulator_base_url: str = Field(default="", alias="SIMULATOR_BASE_URL")
    admin_group: str = Field(default="genjobs-admin", alias="ADMIN_GROUP")
    # Local only: wall seconds per schedule second. Durations handed to the state machine stay in
    # schedule seconds (the local runtime scales its waits); durations compared with the wall clock
    # here are multiplied by it.
    time_scale: float = Field(default=1.0, gt=0, alias="TIME_SCALE")

    # Limits of the public API.
    max_tasks_per_job: int = Field(default=10_000, alias="MAX_TASKS_PER_JOB")
    max_body_bytes: int = Field(default=1_000_000, alias="MAX_BODY_BYTES")
    default_job_concurrency: int = Field(default=10, alias="DEFAULT_JOB_CONCURRENCY")
    max_job_concurrency: int = Field(default=100, alias="MAX_JOB_CONCURRENCY")
    output_url_ttl_seconds: int = Field(default=900, alias="OUTPUT_URL_TTL_SECONDS")

    # Waiting for providers (schedule seconds).
    poll_min_interval_seconds: int = Field(default=2, alias="POLL_MIN_INTERVAL_SECONDS")
    # Consecutive failed observations of a task (a status read or an output download that failed,
    # by a poll, a webhook or a sweep) after which it ends FAILED: every wait on a provider is bounded.
    max_consecutive_poll_errors: int = Field(default=10, ge=1, alias="MAX_CONSECUTIVE_POLL_ERRORS")
    task_deadline_seconds: int = Field(default=86_400, alias="TASK_DEADLINE_SECONDS")
    webhook_grace_seconds: int = Field(default=120, alias="WEBHOOK_GRACE_SECONDS")
    sweeper_interval_seconds: int = Field(default=60, alias="SWEEPER_INTERVAL_SECONDS")
    # An overdue webhook task the sweeper found unfinished is swept again after the interval,
    # doubling with each sweep up to this (every sweep costs DynamoDB writes). Kept below the
    # heartbeat, since a sweep is what keeps such a task's wait alive.
    sweep_backoff_max_seconds: int = Field(default=900, ge=1, alias="SWEEP_BACKOFF_MAX_SECONDS")
    # A waiting task must show life this often (submitter on each delivery, sweeper on each pass).
    heartbeat_seconds: int = Field(default=3_600, alias="TASK_HEARTBEAT_SECONDS")

    @model_validator(mode="after")
    def _sweeps_keep_waits_alive(self) -> Settings:
        if self.sweep_backoff_max_seconds >= self.heartbeat_seconds:
            raise ValueError("SWEEP_BACKOFF_MAX_SECONDS must be below TASK_HEARTBEAT_SECONDS")
        return self

    def wall(self, schedule_seconds: float) -> float:
        """Schedule seconds as wall-clock seconds (identical on AWS)."""
        return schedule_seconds * self.time_scale


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
