"""S3: large plans, task manifests for the Distributed Map, and the outputs we keep in custody."""

from __future__ import annotations

import json
from typing import IO, Any

from genjobs.dal import aws


class Storage:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, separators=(",", ":")).encode()
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int:
        """Uploads a stream (multipart for large files) and returns the stored size."""
        self._s3.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type})
        return int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self._s3.head_object(Bucket=self.bucket, Key=key))
        except self._s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def presign(self, key: str, ttl_seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
            )
        )
