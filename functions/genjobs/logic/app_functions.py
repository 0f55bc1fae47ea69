"""A pipeline step of kind `lambda`: the app's own function, named by the step, invoked on the
step's input (genjobs.models.messages.AppFunctionRequest / AppFunctionResult are the contract)."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.models.messages import AppFunctionRequest, AppFunctionResult
from genjobs.models.persistence import AppFunctionFailed


def invoke(deps: Collaborators, function: str, request: AppFunctionRequest) -> AppFunctionResult:
    """Runs the listed app function `function` names (see Settings.app_function_arn). Raises
    AppFunctionFailed when none is listed under that name, or the port's errors."""
    arn = deps.settings.app_function_arn(function)
    if arn is None:
        raise AppFunctionFailed(
            "FunctionNotListed", f"{function!r} is not one of the app's functions (AppFunctionArns)"
        )
    return deps.app_functions.invoke(arn, request.to_wire())
