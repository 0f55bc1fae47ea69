"""PLACEHOLDER, to be replaced by the pipeline runner: runs a step that answers at once (a
synchronous provider call, or an app function through genjobs.logic.app_functions), keeps its
outputs and answers the step's task token.

Until then every RunQueue message fails (NotImplementedError) and comes back until RunQueue's DLQ
takes it. The imports name what the runner builds on, so each function's environment
(tests/contract/test_environment.py) already holds what it will read.
"""

from __future__ import annotations

from genjobs.logic import app_functions, outputs, providers, task_answer
from genjobs.logic.ports import Collaborators
from genjobs.models.messages import RunTask

__all__ = ["app_functions", "outputs", "providers", "run", "task_answer"]


def run(deps: Collaborators, message: RunTask) -> None:
    raise NotImplementedError("the pipeline runner (genjobs.logic.running) is not written yet")
