"""The status page in a real browser (headless Chromium) against `make run`.

`make run` starts as a user starts it, with this module's ports and short limits in its
LOCAL_ENV file: one worker with one pool process (so a second task stays queued), and a
poison task in the dead-letter queue after two receives. The test signs in with the dev
key `make run` wrote to .local/api-key, queues through the API client, and reads everything
else off the page as it refreshes itself.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from taskqueue_cli.api import TaskApi

from harness.stack import REPO_ROOT
from tests.browser.chromium import chromium
from tests.devstack.make_run import local_env, start_make_run, wait_for_make_run
from tests.harness.process_tree import descendants, kill_group, survivors
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

T = TypeVar("T")
LIMITS = {
    **SHORT_LIMITS,
    "TASK_MAX_DURATION": "8",  # long enough to see the bar move over a few refreshes
    "MAX_RECEIVE_COUNT": "2",
    "WORKER_CONCURRENCY": "1",
    "WORKER_PRESENCE_INTERVAL": "1",
    "WORKER_PRESENCE_WINDOW": "5",
}
DEV_KEY_FILE = REPO_ROOT / ".local" / "api-key"


@dataclass
class MakeRun:
    """The running `make run`: its web's URL, the dev client's key, its output."""

    web_url: str
    api_key: str
    log: Path

    def api(self) -> TaskApi:
        return TaskApi(self.web_url, api_key=self.api_key)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    """`make run` with this module's ports and limits; stopped (all of it) at the end."""
    work_dir = tmp_path_factory.mktemp("make-run")
    env_file, env = local_env(work_dir)
    with env_file.open("a", encoding="utf-8") as file:
        file.write("".join(f"{key}={shlex.quote(value)}\n" for key, value in LIMITS.items()))
    web_url = f"http://{env['WEB_BIND']}"
    log = work_dir / "make-run.log"
    make = start_make_run(env_file, log)
    try:
        wait_for_make_run(web_url, env, log)
        key = DEV_KEY_FILE.read_text(encoding="utf-8").strip()
        yield MakeRun(web_url=web_url, api_key=key, log=log)
    finally:
        tree = descendants(make.pid)
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            make.wait(60)
        finally:
            survivors(tree, timeout=30)
            kill_group(make.pid)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chrome]:
    with chromium(tmp_path) as driver:
        yield driver


def poll(read: Callable[[], T | None], timeout: float, what: str) -> T:
    """The first truthy `read()` within `timeout` seconds; the page re-renders its panel every
    few seconds, so an element found a moment ago may be gone: read again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = read()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def text_of(browser: Chrome, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text


def state_of(browser: Chrome, task_id: str) -> str:
    return browser.find_element(By.ID, f"task-{task_id}").get_attribute("data-state") or ""


def progress_of(browser: Chrome, task_id: str) -> int | None:
    """The value of the task's progress bar, or None while it has none."""
    bars = browser.find_elements(By.CSS_SELECTOR, f'tr[id="task-{task_id}"] progress')
    return int(bars[0].get_attribute("value") or 0) if bars else None


def screenshot(browser: Chrome, path: Path) -> None:
    """The page's content (its body, not the empty window below) as a PNG at `path`."""
    assert browser.find_element(By.TAG_NAME, "body").screenshot(str(path))
    assert path.stat().st_size > 10_000


def sign_in(browser: Chrome, key: str) -> None:
    field = browser.find_element(By.ID, "api-key")
    field.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()


def test_without_a_key_the_page_shows_a_sign_in_form_and_no_data(
    make_run: MakeRun, browser: Chrome
) -> None:
    browser.get(f"{make_run.web_url}/")

    assert poll(lambda: browser.find_element(By.ID, "sign-in").is_displayed(), 10, "sign-in")
    assert not browser.find_element(By.ID, "status").is_displayed()
    assert browser.find_element(By.ID, "panel").get_attribute("innerHTML") == ""

    sign_in(browser, "tq_not-a-key-anyone-has")
    message = poll(lambda: text_of(browser, "#sign-in-message"), 10, "the refusal")

    assert "refused" in message
    assert browser.find_element(By.ID, "panel").get_attribute("innerHTML") == ""
    assert browser.execute_script("return sessionStorage.length") == 0


def test_watch_progress_cancel_a_queued_task_and_see_the_dlq(
    make_run: MakeRun, browser: Chrome, tmp_path: Path
) -> None:
    api = make_run.api()
    browser.get(f"{make_run.web_url}/")
    sign_in(browser, make_run.api_key)
    poll(lambda: text_of(browser, "#count-dlq") == "0", 15, "the panel, DLQ empty")
    assert make_run.api_key not in browser.current_url
    assert browser.execute_script("return document.cookie") == ""
    browser.execute_script("window.loadedOnce = true")  # gone if the page ever reloads

    running = api.enqueue("long_task", {"duration": 8})
    queued = api.enqueue("long_task", {"duration": 1})  # the only pool process is busy
    poison = api.enqueue("fail", {"message": "poisoned"})

    # The progress bar moves over several refreshes; the one worker shows its slot busy.
    seen = [poll(lambda: progress_of(browser, running), 20, "the progress bar")]
    poll(lambda: "1 / 1" in text_of(browser, "#workers"), 10, "the worker's busy slot")
    assert state_of(browser, queued) == "PENDING"
    browser.find_element(By.CSS_SELECTOR, f'button[data-cancel="{queued}"]').click()
    poll(lambda: state_of(browser, queued) == "REVOKED", 15, "the queued task cancelled")
    screenshot(browser, tmp_path / "status-page-running.png")
    deadline = time.monotonic() + 30
    while poll(lambda: state_of(browser, running), 5, "its state") != "SUCCESS":
        assert time.monotonic() < deadline, f"no SUCCESS on the page; progress seen: {seen}"
        seen.append(poll(lambda: progress_of(browser, running) or -1, 5, "its progress"))
        time.sleep(0.5)
    steps = [step for step in seen if step > 0]
    assert steps == sorted(steps) and len(set(steps)) >= 2, seen  # it moved, forward only

    # The detail of the finished task: its result, from the link in its row.
    browser.find_element(By.CSS_SELECTOR, f'a[data-task-link="{running}"]').click()
    detail = poll(lambda: text_of(browser, "#detail"), 10, "the task's detail")
    assert "SUCCESS" in detail and '"duration": 8' in detail

    # Two receives, each failing, then SQS moves the poison task to the dead-letter queue;
    # the last failure recorded it DEAD_LETTERED before the move.
    poll(lambda: text_of(browser, "#count-dlq") == "1", 60, "the poison task in the DLQ")
    assert state_of(browser, poison) == "DEAD_LETTERED"
    screenshot(browser, tmp_path / "status-page.png")
    assert browser.execute_script("return window.loadedOnce") is True  # swapped in, not reloaded

    # make prints the key for the user's curl lines; the services never log it.
    services = [
        line for line in make_run.log.read_text(errors="replace").splitlines() if " | " in line
    ]
    assert any("GET /status/panel 200" in line for line in services)
    assert not any(make_run.api_key in line for line in services)
