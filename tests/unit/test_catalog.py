"""The catalog: what each model costs and how a step may wait for it."""

from __future__ import annotations

import pytest

from genjobs.catalog import WaitBy, get_catalog


@pytest.mark.parametrize(
    ("model", "price", "sync", "wait_by"),
    [
        ("sim-llm", 1, True, WaitBy.POLL),
        ("sim-tts", 1, True, WaitBy.POLL),
        ("sim-image-sync", 1, True, WaitBy.POLL),
        ("sim-avatar", 5, False, WaitBy.WEBHOOK),
        ("sim-background", 3, False, WaitBy.POLL),
        ("sim-image", 1, False, WaitBy.POLL),
        ("sim-video", 5, False, WaitBy.WEBHOOK),
        ("sim-3d", 3, False, WaitBy.POLL),
    ],
)
def test_simulator_models_have_their_price_and_say_whether_they_answer_synchronously(
    model: str, price: int, sync: bool, wait_by: WaitBy
) -> None:
    resolved = get_catalog().resolve("simulator", model)
    assert resolved is not None
    assert (resolved.price, resolved.sync, resolved.wait_by) == (price, sync, wait_by)


def test_a_model_answers_asynchronously_unless_it_says_otherwise() -> None:
    resolved = get_catalog().resolve("replicate", "black-forest-labs/flux-schnell")
    assert resolved is not None
    assert resolved.sync is False
