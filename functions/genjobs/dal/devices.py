"""Devices that receive completion pushes, who holds each push endpoint, and the pushes sent."""

from __future__ import annotations

from genjobs.dal.dynamo import TableRepository, conditionally, key
from genjobs.dal.items import device_key, endpoint_owner_key, from_dynamo, to_dynamo
from genjobs.models.domain import Device

_HELD_BY = "userId = :user AND deviceId = :device"


def _push_key(job_id: str, device_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"PUSH#{device_id}"}


def _holder(device: Device) -> dict[str, str]:
    return {":user": device.user_id, ":device": device.device_id}


class DeviceRepository(TableRepository):
    def get(self, user_id: str, device_id: str) -> Device | None:
        item = self._table.get_item(Key=device_key(user_id, device_id)).get("Item")
        return Device.model_validate(from_dynamo(item)) if item else None

    def of_user(self, user_id: str) -> list[Device]:
        response = self._table.query(
            KeyConditionExpression=key("pk").eq(f"USER#{user_id}") & key("sk").begins_with("DEVICE#")
        )
        return [Device.model_validate(from_dynamo(i)) for i in response["Items"]]

    def endpoint_owner(self, endpoint_arn: str) -> Device | None:
        item = self._table.get_item(Key=endpoint_owner_key(endpoint_arn), ConsistentRead=True).get("Item")
        return Device.model_validate(from_dynamo(item)) if item else None

    def hand_over(self, device: Device, previous: Device | None) -> bool:
        """Records `device` as the holder of its endpoint and ends `previous` (the endpoint's holder
        read before, possibly another user's device), in one transaction. False, with nothing
        written, when the endpoint changed hands since `previous` was read."""
        item = to_dynamo(device.model_dump(mode="json", by_alias=True))
        owner_item = {**item, **endpoint_owner_key(device.endpoint_arn)}
        if previous is None:
            owner = self.put(owner_item, "attribute_not_exists(pk)")
        else:
            owner = self.put(owner_item, _HELD_BY, ExpressionAttributeValues=_holder(previous))
        items = [self.put({**item, **device_key(device.user_id, device.device_id)}), owner]
        if previous is not None and (previous.user_id, previous.device_id) != (
            device.user_id,
            device.device_id,
        ):
            items.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": device_key(previous.user_id, previous.device_id),
                    }
                }
            )
        return self._transact(items)

    def forget(self, device: Device) -> None:
        """Ends a device record and, when it still holds its endpoint, the endpoint's holder record."""
        self._table.delete_item(Key=device_key(device.user_id, device.device_id))
        conditionally(
            self._table.delete_item,
            Key=endpoint_owner_key(device.endpoint_arn),
            ConditionExpression=_HELD_BY,
            ExpressionAttributeValues=_holder(device),
        )

    def claim_push(self, job_id: str, device_id: str) -> bool:
        """True once per (job, device): the push is sent at most once even when replayed."""
        return self._put_once(_push_key(job_id, device_id))

    def release_push(self, job_id: str, device_id: str) -> None:
        """The claimed push was not sent: the next delivery of the job's event may send it."""
        self._table.delete_item(Key=_push_key(job_id, device_id))
