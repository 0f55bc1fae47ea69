"""The simulator's predictions in flight (counted per model, with peaks) and its capacity per model,
beyond which a create is refused with 429 and Retry-After as a provider at its limit does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from genjobs.providers import ProviderThrottled, SubmitRequest
from genjobs.providers.simulator import SimulatorProvider
from genjobs_local.simulator import SimulatorServer

from .provider_test_servers import SIM_SCALE as SCALE


def create(sim: SimulatorServer, model: str, key: str, **options: Any) -> requests.Response:
    return requests.post(
        f"{sim.base_url}/v1/predictions",
        json={"model": model, "input": {"sim": {"queueSeconds": 0, **options}}},
        headers={"Idempotency-Key": key},
        timeout=5,
    )


@pytest.fixture
def limited() -> Iterator[SimulatorServer]:
    server = SimulatorServer(time_scale=SCALE, capacity={"sim-image": 2}).start()
    yield server
    server.stop()


def test_in_flight_is_counted_per_model_and_the_peak_stays_after_they_end(sim: SimulatorServer) -> None:
    # GIVEN three short predictions of one model and one long prediction of another
    for n in range(3):
        assert create(sim, "sim-image", f"short-{n}", latency=5).status_code == 201
    assert create(sim, "sim-video", "long", latency=500).status_code == 201
    stats = sim.stats()
    # THEN all four are in flight, per model and in total
    assert stats["in_flight"] == {"total": 4, "by_model": {"sim-image": 3, "sim-video": 1}}
    # WHEN the short ones end
    time.sleep(6 * SCALE)
    stats = sim.stats()
    # THEN only the long one is in flight, and the peaks are what was seen at once
    assert stats["in_flight"] == {"total": 1, "by_model": {"sim-video": 1}}
    assert stats["peak_in_flight"] == {"total": 4, "by_model": {"sim-image": 3, "sim-video": 1}}
    # AND a reset clears the peaks with the predictions
    sim.reset()
    assert sim.stats()["peak_in_flight"] == {"total": 0, "by_model": {}}


def test_a_cancelled_prediction_leaves_the_count_at_once(sim: SimulatorServer) -> None:
    prediction = create(sim, "sim-image", "k", latency=500).json()
    requests.post(prediction["urls"]["cancel"], timeout=5).raise_for_status()
    assert sim.stats()["in_flight"]["total"] == 0
    assert sim.stats()["peak_in_flight"]["total"] == 1


def test_a_model_at_capacity_refuses_new_predictions_with_429_until_a_slot_frees(
    limited: SimulatorServer,
) -> None:
    # GIVEN the model's two slots taken, by predictions of 100 and 500 schedule seconds (long enough
    # that neither ends before the third create on a busy machine)
    assert create(limited, "sim-image", "a", latency=100).status_code == 201
    assert create(limited, "sim-image", "b", latency=500).status_code == 201
    # WHEN a third is created
    refused = create(limited, "sim-image", "c", latency=1)
    # THEN it is refused with the wait until the first slot frees, and nothing was created
    assert refused.status_code == 429
    assert 0 < float(refused.headers["Retry-After"]) <= 100 * SCALE + 0.01
    assert limited.stats()["over_capacity"] == 1
    assert limited.stats()["predictions_created"] == 2
    assert limited.stats()["peak_in_flight"]["by_model"] == {"sim-image": 2}
    # AND another model is not limited, and a replay of a created prediction is not refused
    assert create(limited, "sim-video", "d", latency=1).status_code == 201
    assert create(limited, "sim-image", "a", latency=100).status_code == 201
    # WHEN the first slot frees, the refused create goes through
    time.sleep(float(refused.headers["Retry-After"]) + 0.01)
    assert create(limited, "sim-image", "c", latency=1).status_code == 201


def test_the_adapter_sees_a_full_model_as_throttled_with_its_reset_time(limited: SimulatorServer) -> None:
    provider = SimulatorProvider(limited.base_url, webhook_secret=limited.webhook_secret)
    for key in ("a", "b"):
        create(limited, "sim-image", key, latency=100)
    with pytest.raises(ProviderThrottled) as refused:
        provider.submit(SubmitRequest(model="sim-image", input={"sim": {"latency": 1}}, idempotency_key="c"))
    assert 0 < refused.value.retry_after_seconds <= 100 * SCALE + 0.01
