"""The web console in a real headless Chromium (Debian's, driven by Playwright) against the local stack:
sign in, live progress, rendered outputs, cancel with its settlement, retry, isolation between users.
A screenshot of each page is kept under test-artifacts/console/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from genjobs_local.paths import REPO_ROOT
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
# As the machine's closed network needs: no background connections, no sync, no component updates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        # Never a skip: the setup installs it (make setup); a machine without it fails saying so.
        pytest.fail(
            "Chromium is not installed: `make setup` installs Debian's chromium (apt-get install chromium)"
        )
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_console(stack: LocalStack, browser: Browser) -> Iterator[Callable[..., Page]]:
    """A fresh browser context (its own sessionStorage) per user, signed in through the sign-in page."""
    contexts = []

    def sign_in(user: str, *, admin: bool = False, viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or {"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.goto(stack.console_url)
        page.get_by_label("User name").fill(user)
        if admin:
            page.get_by_label("Operator").check()
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def visit(page: Page, route: str) -> None:
    """Opens a console address (`#/jobs/<id>`) in the signed-in tab."""
    page.goto(page.url.split("#")[0] + route)


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def job_progress(page: Page) -> float:
    return float(page.get_by_role("progressbar", name="Job progress").get_attribute("aria-valuenow") or "0")


def figure(page: Page, name: str) -> int:
    return int(page.locator(f"#main [aria-labelledby=credits-h] [data-figure={name}]").inner_text())


def one_running(job: dict[str, Any]) -> bool:
    return bool(job["counts"]["PROCESSING"] == 1)


def job_page(
    app: Client,
    open_console: Callable[..., Page],
    body: dict[str, Any],
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[str, Page]:
    """Creates the job, waits until `until` holds (default: it ended), then opens its page."""
    job_id = app.create(body)["jobId"]
    app.wait(job_id, until)
    page = open_console(app.user)
    visit(page, f"#/jobs/{job_id}")
    return job_id, page


def test_sign_in_page_mints_a_token_and_the_console_is_served_at_the_root(
    stack: LocalStack, browser: Browser
) -> None:
    # GIVEN a browser with no token
    context = browser.new_context()
    page = context.new_page()
    # WHEN it opens the stack's root
    page.goto(stack.console_url)
    # THEN it is asked to sign in, and signing in as a user shows that user's (empty) jobs
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    shot(page, "sign-in")
    page.get_by_label("User name").fill("console-nobody")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("#who")).to_have_text("console-nobody")
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()
    # and the token is kept for the tab only
    assert page.evaluate("sessionStorage.getItem('genjobs.token')").count(".") == 2
    context.close()


def test_a_running_job_reaches_100_percent_without_reload_and_its_images_render(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a job of 4 images still running (300 schedule seconds = 6 s here)
    job_id = app.create(sim_job(4, latency=300, progressSteps=5) | {"collectionId": "console-album"})["jobId"]
    page = open_console(app.user)
    # WHEN its page is opened from the jobs list while it runs
    page.get_by_role("link", name=job_id[:13]).click()
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    assert job_progress(page) < 100
    page.evaluate("window.stillTheSamePage = true")
    # THEN its progress moves to 100% with no reload, and every image is loaded with a real size
    expect(page.get_by_role("progressbar", name="Job progress")).to_have_attribute(
        "aria-valuenow", "100", timeout=60_000
    )
    expect(page.locator("[data-job-status]")).to_have_text("COMPLETED")
    assert page.evaluate("window.stillTheSamePage") is True
    # AND the changes reached the page through the live channel, not only by polling
    assert page.evaluate("window.genjobsLiveFrames || 0") > 0
    images = page.get_by_role("img", name=re.compile(r"^Output 1 of Task \d$"))
    expect(images).to_have_count(4)
    for image in images.all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    assert figure(page, "charged") == app.job(job_id)["credits"]["charged"] == 4
    shot(page, "job")
    # AND at a phone's width nothing is cut off sideways
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "job-phone")
    # AND the list filtered by collection and status keeps its filters in the URL
    visit(page, "#/jobs?status=finished&collection=console-album")
    expect(page.locator(f"tr[data-job='{job_id}']")).to_be_visible()
    expect(page.get_by_label("Collection")).to_have_value("console-album")
    shot(page, "jobs")
    page.get_by_label("Collection").fill("another-album")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"collection=another-album"))
    expect(page.locator(f"tr[data-job='{job_id}']")).to_have_count(0)


def test_cancel_says_what_it_refunds_then_shows_the_settlement(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a job of 5 long tasks, one at a time
    job_id, page = job_page(app, open_console, sim_job(5, latency=2000) | {"concurrency": 1}, one_running)
    # (a running job can be paused, not continued or retried)
    expect(page.get_by_role("button", name="Pause", exact=True)).to_have_count(1)
    expect(page.get_by_role("button", name="Continue", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Retry failed tasks")).to_have_count(0)
    # WHEN cancel is pressed (from the keyboard), the confirm step names the credits it refunds
    # before anything happens, with the focus on its confirm button
    page.get_by_role("button", name="Cancel job").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Yes, cancel job")).to_be_focused()
    estimate = page.locator("[data-estimate=cancel]").inner_text()
    assert re.search(r"refunds up to 5 credits: 4 tasks not started \(4 credits\)", estimate), estimate
    assert app.job(job_id)["status"] == "PROCESSING"
    shot(page, "cancel-confirm")
    page.keyboard.press("Enter")
    # THEN the page shows the job cancelled and its settlement as the API has it
    expect(page.locator("[data-job-status]")).to_have_text("CANCELLED", timeout=60_000)
    settled: dict[str, Any] = app.job(job_id)["credits"]
    expect(page.locator("[aria-labelledby=credits-h] [data-figure=refunded]")).to_have_text(
        str(settled["refunded"])
    )
    assert figure(page, "charged") == settled["charged"]
    assert figure(page, "charged") + figure(page, "refunded") == figure(page, "reserved") == 5
    assert figure(page, "held") == 0
    shot(page, "job-cancelled")


def test_a_failed_task_shows_its_error_and_retry_says_what_it_reserves(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a job whose task failed at the provider
    _, page = job_page(app, open_console, sim_job(1, fail="content policy"))
    # THEN the task shows its error
    expect(page.locator("[data-task='0'] .error")).to_contain_text("content policy")
    expect(page.locator("[data-job-status]")).to_have_text("FAILED")
    retry = page.get_by_role("button", name="Retry failed tasks")
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    # WHEN retry is pressed, it says what it reserves, then retries
    retry.click()
    expect(page.locator("[data-estimate=retry]")).to_contain_text("reserves 1 credits for 1 failed tasks")
    page.get_by_role("button", name="Yes, retry failed tasks").click()
    expect(page.locator("[data-task='0']")).not_to_have_attribute("data-status", "FAILED", timeout=30_000)


def test_a_task_that_failed_once_is_retried_to_success_and_its_attempts_read(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a job of 2 tasks whose first predictions fail (the second succeed)
    job_id, page = job_page(app, open_console, sim_job(2, fail="provider outage", failAttempts=1))
    expect(page.locator("[data-job-status]")).to_have_text("FAILED")
    # WHEN retry is pressed: the confirm step names the credits it reserves (2 tasks at 1 credit)
    page.get_by_role("button", name="Retry failed tasks").click()
    expect(page.locator("[data-estimate=retry]")).to_contain_text("reserves 2 credits for 2 failed tasks")
    page.get_by_role("button", name="Yes, retry failed tasks").click()
    # THEN the job completes in the same page, each task on its second attempt with the first one's error
    expect(page.locator("[data-job-status]")).to_have_text("COMPLETED", timeout=60_000)
    for index in (0, 1):
        task = page.locator(f"[data-task='{index}']")
        expect(task).to_have_attribute("data-status", "COMPLETED")
        expect(task.locator(".row [data-attempt='2']")).to_have_text("attempt 2")
        expect(task.get_by_role("list", name=f"Earlier attempts of Task {index}")).to_contain_text(
            "Attempt 1: FAILED · provider outage"
        )
    assert figure(page, "charged") == app.job(job_id)["credits"]["charged"] == 2
    expect(page.get_by_role("button", name="Retry failed tasks")).to_have_count(0)
    shot(page, "job-retried")


def test_a_running_job_is_paused_then_continued_to_completion(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a job of 3 tasks run one at a time (3 s each here), its first running
    job_id, page = job_page(app, open_console, sim_job(3, latency=150) | {"concurrency": 1}, one_running)
    # WHEN pause is pressed: it says it refunds nothing, then the job is PAUSED
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("[data-estimate=pause]")).to_contain_text("refunds and reserves nothing")
    page.get_by_role("button", name="Yes, pause").click()
    expect(page.locator("[data-job-status]")).to_have_text("PAUSED", timeout=30_000)
    expect(page.get_by_role("button", name="Pause", exact=True)).to_have_count(0)
    # THEN the running task ends and nothing more starts while it stays paused
    paused = app.wait(job_id, lambda job: job["counts"]["PROCESSING"] == 0)
    assert paused["status"] == "PAUSED"
    assert paused["counts"]["PENDING"] >= 1
    shot(page, "job-paused")
    # and continue (it reserves nothing new) runs the rest to completion without a reload
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.locator("[data-estimate=resume]")).to_contain_text("reserves nothing new")
    page.get_by_role("button", name="Yes, continue").click()
    expect(page.locator("[data-job-status]")).to_have_text("COMPLETED", timeout=90_000)
    assert figure(page, "charged") == 3


def test_an_operator_lists_every_users_jobs_then_cancels_them_in_bulk_with_progress(
    make_user: Callable[..., Client], open_console: Callable[..., Page]
) -> None:
    # GIVEN two users' long jobs, running
    owners = [make_user(), make_user()]
    jobs = {owner.create(sim_job(2, latency=3000))["jobId"]: owner for owner in owners}
    for job_id, owner in jobs.items():
        owner.wait(job_id, lambda job: job["status"] == "PROCESSING")
    first = min(owner.job(job_id)["createdAt"] for job_id, owner in jobs.items())
    ops = open_console("console-bulk-operator", admin=True)
    ops.get_by_role("link", name="Operators").click()
    # WHEN the operator filters on running jobs created since the first of them
    since = ops.evaluate(
        """iso => { const d = new Date(new Date(iso).getTime() - 1000), p = (n) => String(n).padStart(2, "0");
          return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:`
            + `${p(d.getMinutes())}:${p(d.getSeconds())}`; }""",
        first,
    )
    ops.get_by_label("PROCESSING").check()
    ops.get_by_label("Created from").fill(since)
    ops.get_by_label("Action").select_option("cancel")
    # THEN the list shows both users' jobs with their owners (reading on with "More jobs" while the
    # listing, which reads the table in parts, has more: a big table's first part may hold neither)
    ops.get_by_role("button", name="List matching jobs").click()
    listed = ops.locator(", ".join(f"tr[data-job='{job_id}']" for job_id in jobs))
    for _ in range(500):
        # a part scans up to 20 pages of the table: seconds on a busy machine
        expect(ops.locator("[data-more]").or_(listed).first).to_be_visible(timeout=30_000)
        if listed.count() >= len(jobs) or not ops.locator("[data-more]").count():
            break
        more = ops.locator("[data-more]").element_handle()
        more.click()
        more.wait_for_element_state(
            "hidden", timeout=30_000
        )  # the next part is listed: its button replaces this one
    for job_id, owner in jobs.items():
        expect(ops.locator(f"tr[data-job='{job_id}']")).to_contain_text(owner.user)
    # and the dry run counts them before anything happens
    ops.get_by_role("button", name="Count matching jobs").click()
    expect(ops.locator("[data-bulk-matched]")).to_have_attribute("data-bulk-matched", "2", timeout=30_000)
    assert all(owner.job(job_id)["status"] == "PROCESSING" for job_id, owner in jobs.items())
    shot(ops, "operators-bulk-confirm")
    # WHEN confirmed, the operation's progress is shown until DONE, and each job is cancelled
    ops.get_by_role("button", name="Yes, cancel 2 jobs").click()
    expect(ops.locator("[data-operation-status]")).to_have_text("DONE", timeout=60_000)
    expect(ops.locator("[data-operation]")).to_contain_text("2 done, 0 skipped")
    expect(ops.get_by_role("progressbar", name="Operation progress")).to_have_attribute(
        "aria-valuenow", "100"
    )
    shot(ops, "operators-bulk-done")
    for job_id, owner in jobs.items():
        assert owner.wait(job_id)["status"] == "CANCELLED"


def test_a_user_who_is_not_an_operator_gets_403_on_the_operators_page(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a user's running job, and the user opening the operators' page by its address
    job_id = app.create(sim_job(1, latency=2000))["jobId"]
    page = open_console(app.user)
    visit(page, "#/operators")
    # WHEN they list every user's jobs and ask for a bulk dry run
    page.get_by_role("button", name="List matching jobs").click()
    # THEN each is refused (403) and shows no job
    expect(page.get_by_role("alert")).to_contain_text("this route is for operators (HTTP 403)")
    expect(page.locator("tr[data-job]")).to_have_count(0)
    page.get_by_role("button", name="Count matching jobs").click()
    expect(page.locator("[data-bulk-matched]")).to_have_count(0)
    expect(page.get_by_role("alert").first).to_contain_text("HTTP 403")
    shot(page, "operators-refused")
    assert app.job(job_id)["status"] in {"PENDING", "PROCESSING"}


def test_a_user_never_sees_another_users_job(
    make_user: Callable[..., Client], open_console: Callable[..., Page]
) -> None:
    # GIVEN alice's job
    alice, bob = make_user(), make_user()
    job_id = alice.create(sim_job(1))["jobId"]
    alice.wait(job_id)
    # WHEN bob signs in, lists jobs and opens alice's job by its address
    page = open_console(bob.user)
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()
    visit(page, f"#/jobs/{job_id}")
    # THEN he sees no job of hers
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    expect(page.get_by_text(f"There is no job {job_id} among your jobs.")).to_be_visible()
    visit(page, "#/credits")
    expect(page.get_by_role("heading", name="Credits by job")).to_be_visible()
    expect(page.locator(f"tr[data-job='{job_id}']")).to_have_count(0)
    # while alice sees it in her list
    mine = open_console(alice.user)
    expect(mine.locator(f"tr[data-job='{job_id}']")).to_be_visible()


def test_an_operator_grants_credits_and_the_user_reads_them_on_the_credits_page(
    make_user: Callable[..., Client], open_console: Callable[..., Page]
) -> None:
    # GIVEN a user with no credits and an operator signed in
    user = make_user(credits=0)
    ops = open_console("console-operator", admin=True)
    ops.get_by_role("link", name="Operators").click()
    # WHEN the operator grants 7 credits and sets a plan
    ops.get_by_label("User id").fill(user.user)
    ops.get_by_label("Amount").fill("7")
    ops.get_by_role("button", name="Grant").click()
    expect(ops.get_by_text(f"Granted 7 credits to {user.user}.")).to_be_visible()
    expect(ops.locator("[aria-labelledby=account-h] [data-figure=available]")).to_have_text("7")
    ops.get_by_role("button", name="Set plan").click()
    expect(ops.get_by_text(f"{user.user} is on plan default.")).to_be_visible()
    shot(ops, "operators")
    # THEN the user's credits page shows them, at a phone's width with nothing cut off sideways
    page = open_console(user.user, viewport=PHONE)
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("[aria-labelledby=balance-h] [data-figure=available]")).to_have_text("7")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "credits-phone")
    # and a user who is not an operator has no operators' page
    expect(page.get_by_role("link", name="Operators")).to_be_hidden()


def test_a_pipeline_shows_each_steps_progress_and_plays_its_audio(
    app: Client, open_console: Callable[..., Page]
) -> None:
    # GIVEN a 2-scene pipeline: a script (text), then speech per scene (audio)
    job_id = app.create(
        {
            "input": {"document": "The couple arrives.\n\nThe first dance."},
            "steps": [
                {"name": "script", "kind": "sync", "provider": "simulator", "model": "sim-llm",
                 "input": {"prompt": "${input.document}", "format": "script"}, "items": "scenes"},
                {"name": "speech", "kind": "sync", "provider": "simulator", "model": "sim-tts",
                 "forEach": {"step": "script", "max": 4}, "input": {"text": "${item.narration}"}},
            ],
        }
    )["jobId"]  # fmt: skip
    # WHEN its page is open until it ends
    page = open_console(app.user)
    visit(page, f"#/jobs/{job_id}")
    expect(page.locator("[data-job-status]")).to_have_text("COMPLETED", timeout=60_000)
    # THEN each step has its progress and credits, and each scene's speech is an audio player
    for step in ("script", "speech"):
        expect(page.get_by_role("progressbar", name=f"Step {step}")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("tr[data-step=speech] td").nth(3)).to_have_text("2/2")
    players = page.locator("audio")
    expect(players).to_have_count(2)
    assert players.first.evaluate("a => a.canPlayType('audio/wav')") != ""
    expect(page.get_by_label(re.compile(r"^Output 1 of Task 0 \(script"))).to_be_visible()
    shot(page, "pipeline")


def test_a_sign_in_link_opens_the_named_users_jobs(app: Client, browser: Browser, stack: LocalStack) -> None:
    # GIVEN the link the demo prints
    app.create(sim_job(1) | {"collectionId": "linked"})
    context = browser.new_context()
    page = context.new_page()
    # WHEN it is opened
    page.goto(f"{stack.console_url}#/signin?user={app.user}")
    # THEN the console is signed in as that user, on their jobs
    expect(page.locator("#who")).to_have_text(app.user)
    expect(page.locator("tr[data-job]")).to_have_count(1)
    context.close()
