"""The process's collaborators, built once on first use (so an import never touches AWS).

Tests replace them with `override(...)`, or give a Deps in-memory collaborators (tests/unit/fakes.py):
each is typed by its port (genjobs.logic.ports). Logic takes any `Collaborators`; Deps is the one the
functions build, and this module depends on logic's ports, never the other way round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, TypeVar

from genjobs.checkpoints import Checkpoints, Unobserved
from genjobs.clock import Clock, SystemClock
from genjobs.dal.credits import CreditRepository
from genjobs.dal.devices import DeviceRepository
from genjobs.dal.functions import LambdaAppFunctions
from genjobs.dal.jobs import JobRepository
from genjobs.dal.live import LiveRepository, LiveSockets
from genjobs.dal.notifications import Notifications
from genjobs.dal.operations import BulkQueue, OperationRepository
from genjobs.dal.pauses import PauseRepository
from genjobs.dal.slots import SlotRepository
from genjobs.dal.storage import Storage
from genjobs.dal.submissions import DispatchQueue, SubmitQueue
from genjobs.dal.tasks import TaskRepository
from genjobs.dal.timeline import TimelineRepository
from genjobs.dal.workflow import Workflow
from genjobs.settings import Settings, get_settings

T = TypeVar("T")

if TYPE_CHECKING:
    from genjobs.catalog import Catalog
    from genjobs.dal.identity import JwtVerifier
    from genjobs.logic.live_ports import LivePorts
    from genjobs.logic.ports import (
        AppFunctions,
        BulkQueuePort,
        Collaborators,
        Credits,
        Devices,
        DispatchQueuePort,
        Jobs,
        NotificationsPort,
        ObjectStore,
        Operations,
        Pauses,
        Slots,
        SubmitQueuePort,
        Tasks,
        Timeline,
        WorkflowPort,
    )


def _built(make: Callable[[Settings], T]) -> cached_property[T]:
    """A collaborator made from the settings on first use, then kept (an import touches no AWS)."""
    return cached_property(lambda deps: make(deps.settings))


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

    # Each collaborator below is typed by its port and built by `_built` (ClassVar: not a field of
    # the dataclass). Repositories by aggregate share the one jobs table (see genjobs.dal.items).
    jobs: ClassVar[cached_property[Jobs]] = _built(lambda s: JobRepository(s.table_name))
    tasks: ClassVar[cached_property[Tasks]] = _built(lambda s: TaskRepository(s.table_name))
    credits: ClassVar[cached_property[Credits]] = _built(lambda s: CreditRepository(s.table_name))
    devices: ClassVar[cached_property[Devices]] = _built(lambda s: DeviceRepository(s.table_name))
    timeline: ClassVar[cached_property[Timeline]] = _built(lambda s: TimelineRepository(s.table_name))
    operations: ClassVar[cached_property[Operations]] = _built(lambda s: OperationRepository(s.table_name))
    slots: ClassVar[cached_property[Slots]] = _built(lambda s: SlotRepository(s.table_name))
    pauses: ClassVar[cached_property[Pauses]] = _built(lambda s: PauseRepository(s.table_name))
    # The other services, each by the one resource it talks to.
    storage: ClassVar[cached_property[ObjectStore]] = _built(lambda s: Storage(s.output_bucket))
    workflow: ClassVar[cached_property[WorkflowPort]] = _built(lambda s: Workflow(s.state_machine_arn))
    # Sync provider calls and app functions, which may outlast a submitter's batch.
    run_queue: ClassVar[cached_property[SubmitQueuePort]] = _built(lambda s: SubmitQueue(s.run_queue_url))
    submit_queue: ClassVar[cached_property[SubmitQueuePort]] = _built(
        lambda s: SubmitQueue(s.submit_queue_url)
    )
    bulk_queue: ClassVar[cached_property[BulkQueuePort]] = _built(lambda s: BulkQueue(s.bulk_queue_url))
    # Fair dispatch's nudges: a slot given back, a task held, a job resumed.
    dispatch_queue: ClassVar[cached_property[DispatchQueuePort]] = _built(
        lambda s: DispatchQueue(s.dispatch_queue_url)
    )
    notifications: ClassVar[cached_property[NotificationsPort]] = _built(
        lambda s: Notifications(s.job_events_topic_arn)
    )
    # The live channel (logic.live): connections and numbered changes, posts, the users' tokens.
    live: ClassVar[cached_property[LiveRepository]] = _built(lambda s: LiveRepository(s.table_name))
    sockets: ClassVar[cached_property[LiveSockets]] = _built(lambda s: LiveSockets(s.live_endpoint))
    verifier: ClassVar[cached_property[JwtVerifier]] = _built(
        lambda s: _jwt_verifier(s.jwt_issuer, s.jwt_audiences)
    )
    # Any function's ARN: which ones a step may name is the settings' (app_function_arn), and IAM's.
    app_functions: ClassVar[cached_property[AppFunctions]] = _built(lambda s: LambdaAppFunctions())


if TYPE_CHECKING:
    # mypy checks that Deps hands logic everything it declares it needs.
    _satisfies: Collaborators = Deps()
    _live: LivePorts = Deps()

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


def _jwt_verifier(issuer: str, audiences: list[str]) -> JwtVerifier:
    # Imported when first used: PyJWT loads cryptography, which only the live channel's connect needs.
    from genjobs.dal.identity import JwtVerifier

    return JwtVerifier(issuer, audiences)
