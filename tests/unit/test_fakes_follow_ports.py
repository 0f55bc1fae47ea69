"""The in-memory fakes offer every method of the port they stand in for, with the same parameters,
so a unit test cannot pass against a fake the product's repositories would not satisfy."""

from __future__ import annotations

import inspect

import pytest

from genjobs.dal.credits import CreditRepository
from genjobs.dal.devices import DeviceRepository
from genjobs.dal.functions import LambdaAppFunctions
from genjobs.dal.jobs import JobRepository
from genjobs.dal.notifications import Notifications
from genjobs.dal.operations import BulkQueue, OperationRepository
from genjobs.dal.pauses import PauseRepository
from genjobs.dal.storage import Storage
from genjobs.dal.submissions import DispatchQueue, SubmitQueue
from genjobs.dal.tasks import TaskRepository
from genjobs.dal.timeline import TimelineRepository
from genjobs.dal.workflow import Workflow
from genjobs.logic import ports
from tests.unit import fakes

PAIRS = [
    (ports.Jobs, JobRepository, fakes.FakeJobs),
    (ports.Tasks, TaskRepository, fakes.FakeTasks),
    (ports.Credits, CreditRepository, fakes.FakeCredits),
    (ports.Devices, DeviceRepository, fakes.FakeDevices),
    (ports.Timeline, TimelineRepository, fakes.FakeTimeline),
    (ports.ObjectStore, Storage, fakes.FakeStorage),
    (ports.WorkflowPort, Workflow, fakes.FakeWorkflow),
    (ports.SubmitQueuePort, SubmitQueue, fakes.FakeSubmitQueue),
    (ports.DispatchQueuePort, DispatchQueue, fakes.FakeDispatchQueue),
    (ports.Pauses, PauseRepository, fakes.FakePauses),
    (ports.NotificationsPort, Notifications, fakes.FakeNotifications),
    (ports.AppFunctions, LambdaAppFunctions, fakes.FakeAppFunctions),
    (ports.Operations, OperationRepository, fakes.FakeOperations),
    (ports.BulkQueuePort, BulkQueue, fakes.FakeBulkQueue),
]


def parameters(cls: type, name: str) -> list[str]:
    return [p for p in inspect.signature(getattr(cls, name)).parameters if p != "self"]


@pytest.mark.parametrize(("port", "real", "fake"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_the_repository_and_its_fake_both_offer_the_port(port: type, real: type, fake: type) -> None:
    methods = [m for m in vars(port) if not m.startswith("_") and callable(getattr(port, m))]
    assert methods
    for name in methods:
        assert parameters(real, name) == parameters(port, name), (real.__name__, name)
        assert parameters(fake, name) == parameters(port, name), (fake.__name__, name)
