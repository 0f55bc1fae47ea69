"""Resolve CloudFormation intrinsic functions against parameters and already-created resources."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

_NO_VALUE = object()  # AWS::NoValue: the property disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split and conditions.

    `ref` and `get_att` answer for resources; parameters and pseudo parameters are answered here.
    """

    def __init__(
        self,
        stack_name: str,
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.parameters = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
            "AWS::NoValue": _NO_VALUE,
            **parameters,
        }
        self._condition_exprs = conditions
        self._ref = ref
        self._get_att = get_att

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self._condition_exprs[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _fn_ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _fn_get_att(self, arg: str | list[str]) -> Any:
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return self._get_att(logical_id, self.resolve(attribute))

    def _fn_sub(self, arg: str | list[Any]) -> str:
        template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                return str(self._fn_get_att(name))
            return str(self._fn_ref(name))

        # "${!Literal}" stays as "${Literal}".
        return _SUB_VARIABLE.sub(lookup, template).replace("${!", "${")

    def _fn_join(self, arg: list[Any]) -> str:
        delimiter, items = arg
        return str(delimiter).join(str(i) for i in self.resolve(items))

    def _fn_if(self, arg: list[Any]) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_select(self, arg: list[Any]) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_split(self, arg: list[Any]) -> list[str]:
        delimiter, text = self.resolve(arg)
        return str(text).split(delimiter)

    def _fn_equals(self, arg: list[Any]) -> bool:
        left, right = self.resolve(arg)
        return bool(str(left) == str(right))

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::If": _fn_if,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::Equals": _fn_equals,
        "Fn::Not": lambda self, arg: not self.resolve(arg[0]),
        "Fn::And": lambda self, arg: all(self.resolve(arg)),
        "Fn::Or": lambda self, arg: any(self.resolve(arg)),
        "Condition": lambda self, name: self.condition(name),
    }


def references(value: Any) -> set[str]:
    """Logical ids (resources or parameters) that an expression refers to; used to order creation."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                template = arg if isinstance(arg, str) else arg[0]
                local_vars = {} if isinstance(arg, str) else arg[1]
                for name in _SUB_VARIABLE.findall(template):
                    if name not in local_vars:
                        found.add(name.split(".", 1)[0])
                found |= references(local_vars)
            else:
                found |= references(arg)
    return found
