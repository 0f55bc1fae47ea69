"""The benchmark's alternative designs really do the work they are priced for: every image's output
lands in S3 and its result in DynamoDB (a design that silently did nothing would cost nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from bench.designs import DESIGNS, Designs

from genjobs_local import LocalStack


@pytest.fixture(scope="module")
def designs(stack: LocalStack) -> Iterator[Designs]:
    deployed = Designs.deploy(stack)
    yield deployed
    deployed.stop()


@pytest.mark.parametrize("design", DESIGNS)
def test_each_design_copies_every_output_to_s3_and_records_every_result(
    designs: Designs, design: str
) -> None:
    # GIVEN a job of 2 images of 20 schedule seconds
    job = f"{design}-{uuid.uuid4().hex[:8]}"

    # WHEN the design runs it
    designs.start(design, job, 2, 20)

    # THEN both results are recorded COMPLETED with their output's key, and both outputs are in S3
    assert designs.wait(job, 2, timeout=60), f"{design} recorded {designs.results(job)}"
    results = sorted(designs.results(job), key=lambda r: r["image"])
    assert [(r["image"], r["status"], r["output"]) for r in results] == [
        (0, "COMPLETED", f"{job}/0.png"),
        (1, "COMPLETED", f"{job}/1.png"),
    ]
    assert designs.outputs(job) == [f"{job}/0.png", f"{job}/1.png"]
