"""Who may open the live channel, and for which jobs: the WebSocket's $connect, subscribe and
$disconnect (the user's JWT checked as the HTTP API's authorizer checks it)."""

from __future__ import annotations

from genjobs.logic.errors import Forbidden, NotFound
from genjobs.logic.live_ports import LivePorts
from genjobs.models.domain import Job
from genjobs.models.live import Connection
from genjobs.models.persistence import InvalidToken


def connect(ports: LivePorts, connection_id: str, token: str | None, job_id: str | None) -> Connection:
    """$connect: the user's token (forged, expired or missing: Forbidden), and the one job they
    want, if any (another user's job: NotFound, as for the API)."""
    if not token:
        raise Forbidden("a token is required (?token=)")
    try:
        claims = ports.verifier.claims(token)
    except InvalidToken as error:
        raise Forbidden(f"token refused: {error}") from error
    connection = Connection(
        connectionId=connection_id, userId=str(claims["sub"]), tokenExpiresAt=int(claims["exp"]), jobId=job_id
    )
    if job_id is not None:
        _owned(ports, connection.user_id, job_id)
    ports.live.open(connection)
    return connection


def subscribe(ports: LivePorts, connection_id: str, job_id: str | None) -> Connection:
    connection = ports.live.find(connection_id)
    if connection is None:
        raise NotFound(f"no connection '{connection_id}'")
    if job_id is not None:
        _owned(ports, connection.user_id, job_id)
    ports.live.subscribe(connection, job_id)
    return connection.model_copy(update={"job_id": job_id})


def disconnect(ports: LivePorts, connection_id: str) -> None:
    connection = ports.live.find(connection_id)
    if connection is not None:
        ports.live.close(connection)


def _owned(ports: LivePorts, user_id: str, job_id: str) -> Job:
    job = ports.jobs.get(job_id)
    if job is None or job.user_id != user_id:
        raise NotFound(f"no job '{job_id}'")
    return job
