"""The one builder of DynamoDB update expressions: any attribute name, values as placeholders."""

from __future__ import annotations

from decimal import Decimal

from genjobs.dal.dynamo import update

KEY = {"pk": "JOB#1", "sk": "JOB"}


def test_set_add_and_remove_become_one_expression_with_placeholders() -> None:
    params = update(KEY, set={"status": "DONE"}, add={"count": -1}, remove=("gsi2pk",))
    assert params["Key"] == KEY
    assert params["UpdateExpression"] == "SET #u0 = :u0 ADD #u1 :u1 REMOVE #u2"
    assert params["ExpressionAttributeNames"] == {"#u0": "status", "#u1": "count", "#u2": "gsi2pk"}
    assert params["ExpressionAttributeValues"] == {":u0": "DONE", ":u1": -1}


def test_a_value_set_only_if_absent_keeps_an_existing_one() -> None:
    params = update(KEY, set_if_absent={"reserved": 0})
    assert params["UpdateExpression"] == "SET #u0 = if_not_exists(#u0, :u0)"


def test_a_condition_keeps_its_own_placeholders() -> None:
    params = update(
        KEY, set={"status": "B"}, condition="#s = :from", names={"#s": "status"}, values={":from": "A"}
    )
    assert params["ConditionExpression"] == "#s = :from"
    assert params["ExpressionAttributeNames"] == {"#s": "status", "#u0": "status"}
    assert params["ExpressionAttributeValues"] == {":from": "A", ":u0": "B"}


def test_values_are_stored_as_dynamodb_takes_them() -> None:
    params = update(KEY, set={"progress": 12.5, "outputs": [{"key": "k", "size": None}]})
    assert params["ExpressionAttributeValues"] == {":u0": Decimal("12.5"), ":u1": [{"key": "k"}]}


def test_an_update_without_values_sends_no_empty_maps() -> None:
    # DynamoDB refuses empty ExpressionAttributeValues
    params = update(KEY, remove=("providerCancelledAt",))
    assert "ExpressionAttributeValues" not in params
    assert "ConditionExpression" not in params
