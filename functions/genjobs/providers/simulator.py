"""Adapter for the genjobs generation simulator (local/genjobs_local/simulator.py).

The simulator speaks a Replicate-like API with an `Idempotency-Key` on create, a direct `progress`
field and Standard-Webhooks-signed deliveries, so it is the generic adapter with a fixed setup.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from genjobs.providers.base import TaskState
from genjobs.providers.generic_http import GenericHttpConfig, GenericHttpProvider

STATUS_TABLE: Mapping[str, TaskState] = {
    "queued": TaskState.QUEUED,
    "running": TaskState.RUNNING,
    "succeeded": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "canceled": TaskState.CANCELED,
}


def simulator_config(
    base_url: str, webhook_secret: str | None = None, api_token: str | None = None
) -> GenericHttpConfig:
    return GenericHttpConfig(
        name="simulator",
        base_url=base_url,
        submit_url="{base}/v1/predictions",
        status_url="{base}/v1/predictions/{id}",
        cancel_url="{base}/v1/predictions/{id}/cancel",
        id_path="id",
        status_path="status",
        status_map=dict(STATUS_TABLE),
        progress_path="progress",
        outputs_path="outputs",
        error_path="error",
        queue_position_path="queue_position",
        headers={"Authorization": f"Bearer {api_token}"} if api_token else {},
        webhook_secret=webhook_secret,
    )


class SimulatorProvider(GenericHttpProvider):
    def __init__(
        self,
        base_url: str,
        webhook_secret: str | None = None,
        api_token: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(simulator_config(base_url, webhook_secret, api_token), session=session)
