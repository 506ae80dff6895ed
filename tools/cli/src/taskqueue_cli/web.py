"""The web service's API as the CLI answers it: each failure becomes one line naming its cause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from taskqueue_cli.api import DEFAULT_TIMEOUT, TaskApi
from taskqueue_cli.errors import CliError


class WebClient:
    """Queue a task, read its status, cancel it: `TaskApi`'s answers as values or `CliError`."""

    def __init__(
        self, base_url: str, api_key: str | None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.api = TaskApi(base_url, timeout, api_key=api_key)

    def enqueue(self, task: str, params: dict[str, Any]) -> str:
        """Queue `task` once: with an Idempotency-Key, sent again with it while no answer
        comes (`TaskApi.post_task_once`); its id."""
        response = self._call(lambda: self.api.post_task_once(task, params))
        if response.status_code == 202:
            task_id: str = response.json()["id"]
            return task_id
        problem = _problem(response)
        fields = {error.get("field") for error in problem.get("errors") or []}
        if response.status_code == 422 and "task" in fields:
            detail = str(problem.get("detail", ""))
            known = detail.partition("expected tags: ")[2]
            raise CliError(f"unknown task {task!r}; known tasks: {known or detail}")
        if response.status_code == 422:
            raise CliError(f"bad parameters for {task}: {problem.get('detail', '')}")
        if response.status_code == 401:
            raise CliError(_unauthorized(response))
        if response.status_code == 429:
            retry = response.headers.get("Retry-After")
            after = f" Try again in {retry} s." if retry else ""
            raise CliError(f"too many tasks waiting: {problem.get('detail', '')}{after}")
        raise CliError(_describe(response, problem))

    def status(self, task_id: str) -> dict[str, Any]:
        """`{"id", "state", "progress", "result", "error"}` of one task."""
        return _task_body(self._call(lambda: self.api.get_task(task_id)), task_id)

    def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a task; its status body (REVOKED, or its state now when it runs and was
        asked to stop)."""
        return _task_body(self._call(lambda: self.api.delete_task(task_id)), task_id)

    def list_tasks(
        self, state: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """A page of the caller's tasks: `{"items": [...], "next_cursor"}`."""
        response = self._call(lambda: self.api.list_tasks(state, limit, cursor))
        return _list_body(response)

    def workers(self) -> list[dict[str, Any]]:
        """The live workers, as `GET /workers` shows them to the caller."""
        workers: list[dict[str, Any]] = _list_body(self._call(self.api.workers))["workers"]
        return workers

    def _call(self, send: Callable[[], requests.Response]) -> requests.Response:
        base_url, timeout = self.api.base_url, self.api.timeout
        try:
            return send()
        except requests.ConnectionError as error:
            raise CliError(f"cannot reach the web service at {base_url}") from error
        except requests.Timeout as error:
            raise CliError(
                f"the web service at {base_url} did not answer within {timeout:g} s"
            ) from error


def _task_body(response: requests.Response, task_id: str) -> dict[str, Any]:
    """The status body of a 200; an error naming the cause otherwise."""
    if response.status_code in (200, 202):  # 202: a running task was asked to stop
        body: dict[str, Any] = response.json()
        return body
    if response.status_code == 401:
        raise CliError(_unauthorized(response))
    if response.status_code == 404:
        raise CliError(f"no task with id {task_id} was queued (or its result has expired)")
    if response.status_code == 409:
        raise CliError(f"too late to cancel: {_problem(response).get('detail', '')}")
    raise CliError(_describe(response, _problem(response)))


def _list_body(response: requests.Response) -> dict[str, Any]:
    """The body of a 200; an error naming the cause otherwise (a 422 names the bad option)."""
    if response.status_code == 200:
        body: dict[str, Any] = response.json()
        return body
    if response.status_code == 401:
        raise CliError(_unauthorized(response))
    if response.status_code == 422:
        raise CliError(f"refused: {_problem(response).get('detail', '')}")
    raise CliError(_describe(response, _problem(response)))


def _unauthorized(response: requests.Response) -> str:
    """The line for a 401: what the web said, and where the CLI takes its key from."""
    detail = _problem(response).get("detail") or "the API key was refused"
    return f"{detail} Set TASKQUEUE_API_KEY or pass --api-key (`taskqueue keys create NAME`)."


def _problem(response: requests.Response) -> dict[str, Any]:
    """The RFC 9457 problem document of an error answer, or {} if it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(response: requests.Response, problem: dict[str, Any]) -> str:
    lines = response.text.strip().splitlines()
    detail = problem.get("detail") or (lines[0][:200] if lines else "")
    message = (
        f"the web service answered {response.status_code} {problem.get('title') or response.reason}"
    )
    return f"{message}: {detail}" if detail else message
