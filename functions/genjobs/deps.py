"""The process's collaborators, built once on first use (so an import never touches AWS).

Tests replace them with `override(...)`, or give a Deps in-memory collaborators (tests/unit/fakes.py):
each is typed by its port (genjobs.logic.ports).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from genjobs.checkpoints import Checkpoints, Unobserved
from genjobs.clock import Clock, SystemClock
from genjobs.dal.credits import CreditRepository
from genjobs.dal.devices import DeviceRepository
from genjobs.dal.jobs import JobRepository
from genjobs.dal.notifications import Notifications
from genjobs.dal.receipts import ReceiptRepository
from genjobs.dal.storage import Storage
from genjobs.dal.submissions import SubmitQueue
from genjobs.dal.tasks import TaskRepository
from genjobs.dal.timeline import TimelineRepository
from genjobs.dal.workflow import Workflow
from genjobs.settings import Settings, get_settings

if TYPE_CHECKING:
    from genjobs.catalog import Catalog
    from genjobs.logic.ports import (
        Credits,
        Devices,
        Jobs,
        NotificationsPort,
        ObjectStore,
        Receipts,
        SubmitQueuePort,
        Tasks,
        Timeline,
        WorkflowPort,
    )


@dataclass
class Deps:
    settings: Settings = field(default_factory=get_settings)
    clock: Clock = field(default_factory=SystemClock)
    checkpoints: Checkpoints = field(default_factory=Unobserved)

    @cached_property
    def catalog(self) -> Catalog:
        # The catalog's models are imported by the functions that plan or run tasks, not by all.
        from genjobs.catalog import get_catalog

        return get_catalog()

    @cached_property
    def cursor_key(self) -> bytes:
        """The API's page cursor key (AES-256), read once per process from its secret."""
        arn = self.settings.cursor_key_secret_arn
        if not arn:
            raise RuntimeError("CURSOR_KEY_SECRET_ARN is not set: page cursors cannot be sealed")
        from aws_lambda_powertools.utilities.parameters import get_secret

        # The secret is random text generated with the stack; hashing it gives a uniform 256-bit key.
        return hashlib.sha256(str(get_secret(arn)).encode()).digest()

    # Repositories by aggregate; they share the one jobs table (see genjobs.dal.items).
    @cached_property
    def jobs(self) -> Jobs:
        return JobRepository(self.settings.table_name)

    @cached_property
    def tasks(self) -> Tasks:
        return TaskRepository(self.settings.table_name)

    @cached_property
    def credits(self) -> Credits:
        return CreditRepository(self.settings.table_name)

    @cached_property
    def devices(self) -> Devices:
        return DeviceRepository(self.settings.table_name)

    @cached_property
    def receipts(self) -> Receipts:
        return ReceiptRepository(self.settings.table_name)

    @cached_property
    def timeline(self) -> Timeline:
        return TimelineRepository(self.settings.table_name)

    @cached_property
    def storage(self) -> ObjectStore:
        return Storage(self.settings.output_bucket)

    @cached_property
    def workflow(self) -> WorkflowPort:
        return Workflow(self.settings.state_machine_arn)

    @cached_property
    def submit_queue(self) -> SubmitQueuePort:
        return SubmitQueue(self.settings.submit_queue_url)

    @cached_property
    def notifications(self) -> NotificationsPort:
        return Notifications(self.settings.job_events_topic_arn)


_deps: Deps | None = None


def deps() -> Deps:
    global _deps
    if _deps is None:
        _deps = Deps()
    return _deps


def override(value: Deps | None) -> None:
    """Replaces (or with None, forgets) the process's collaborators."""
    global _deps
    _deps = value
    get_settings.cache_clear()
