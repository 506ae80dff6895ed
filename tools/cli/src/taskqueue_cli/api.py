"""The web service's HTTP API in one place: the CLI, the tests and the bench all call it.

`TaskApi` has one method per route, each returning the raw `requests.Response` (for callers
that check status codes, headers and problem bodies), and a few typed answers (`enqueue`,
`status`, `state`) that raise `UnexpectedAnswer` on anything but the route's success code.

`enqueue` (and `post_task_once`) send each task with an `Idempotency-Key` of its own and send
a POST whose answer never came again with the same key, so a retry never queues it twice.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import requests

DEFAULT_TIMEOUT = 10.0
IDEMPOTENCY_KEY = "Idempotency-Key"
# A POST /tasks is sent this often in all while its answer does not come (a timeout, a
# dropped connection) or says the first is still in flight (409).
POST_ATTEMPTS = 3
# Seconds before sending again after a lost answer: this times the attempts so far.
LOST_ANSWER_BACKOFF = 0.5
# The longest wait a 409's Retry-After may ask for.
MAX_RETRY_AFTER = 30.0


class UnexpectedAnswer(Exception):
    """The web answered something other than the route's success code."""

    def __init__(self, what: str, response: requests.Response) -> None:
        self.response = response
        super().__init__(f"{what} answered {response.status_code}: {response.text[:200]}")


def task_path(task_id: str) -> str:
    """`/tasks/<id>`, the id quoted."""
    return f"/tasks/{quote(task_id, safe='')}"


def task_body(task: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of `POST /tasks`; without `params` the key is left out."""
    return {"task": task} if params is None else {"task": task, "params": params}


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key: a random UUID, as the draft recommends."""
    return str(uuid.uuid4())


def retry_after(response: requests.Response) -> float:
    """The seconds a 409's Retry-After asks for (1 if it names none), at most
    MAX_RETRY_AFTER."""
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class TaskApi:
    """`POST /tasks`, `GET /tasks`, `GET /tasks/<id>`, `DELETE /tasks/<id>`, `GET /workers`
    on one web service.

    Every request carries `Authorization: Bearer <api_key>` (unless there is no key, or the
    caller's `headers` set their own). Each request opens its own connection, unless
    `session` is given: then they share its keep-alive connections (a session per thread;
    the caller closes it).
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        *,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session
        self.api_key = api_key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Any request to the web, `path` below its base URL (the timeout unless given)."""
        kwargs.setdefault("timeout", self.timeout)
        if self.api_key is not None:
            kwargs["headers"] = {
                "Authorization": f"Bearer {self.api_key}",
                **(kwargs.get("headers") or {}),
            }
        send = self.session.request if self.session is not None else requests.request
        return send(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """`GET path`: a status URL, the seed route, /healthz."""
        return self.request("GET", path, **kwargs)

    def post_task(
        self,
        task: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """`POST /tasks` with `{"task", "params"}` (and the key, if given), sent once."""
        if idempotency_key is not None:
            kwargs["headers"] = {IDEMPOTENCY_KEY: idempotency_key, **(kwargs.get("headers") or {})}
        return self.request("POST", "/tasks", json=task_body(task, params), **kwargs)

    def post_task_once(
        self,
        task: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        attempts: int = POST_ATTEMPTS,
    ) -> requests.Response:
        """`POST /tasks` with an Idempotency-Key (a fresh one unless given), sent again with
        that key after a timeout or a dropped connection, and after a 409's Retry-After (the
        first still in flight): `attempts` in all. The last answer; the last error if none
        came."""
        key = idempotency_key or new_idempotency_key()
        for attempt in range(1, attempts + 1):
            try:
                response = self.post_task(task, params, idempotency_key=key)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == attempts:
                    raise
                time.sleep(LOST_ANSWER_BACKOFF * attempt)
                continue
            if response.status_code != 409 or attempt == attempts:
                return response
            time.sleep(retry_after(response))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_task(self, task_id: str, **kwargs: Any) -> requests.Response:
        """`GET /tasks/<id>`."""
        return self.get(task_path(task_id), **kwargs)

    def delete_task(self, task_id: str, **kwargs: Any) -> requests.Response:
        """`DELETE /tasks/<id>`: cancel a task no worker has started."""
        return self.request("DELETE", task_path(task_id), **kwargs)

    def list_tasks(
        self,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """`GET /tasks`: a page of the caller's tasks, newest first (unset filters left out)."""
        query = {"state": state, "limit": limit, "cursor": cursor}
        params = {name: value for name, value in query.items() if value is not None}
        return self.get("/tasks", params=params, **kwargs)

    def workers(self, **kwargs: Any) -> requests.Response:
        """`GET /workers`: the live workers."""
        return self.get("/workers", **kwargs)

    def enqueue(self, task: str, params: dict[str, Any] | None = None) -> str:
        """Queue `task` once, with an Idempotency-Key (`post_task_once`); its id (an error
        unless 202)."""
        response = self.post_task_once(task, params)
        if response.status_code != 202:
            raise UnexpectedAnswer(f"POST /tasks {task_body(task, params)}", response)
        task_id: str = response.json()["id"]
        return task_id

    def status(self, task_id: str) -> dict[str, Any]:
        """`{"id", "state", "progress", "result", "error"}` of one task (an error unless 200)."""
        response = self.get_task(task_id)
        if response.status_code != 200:
            raise UnexpectedAnswer(f"GET {task_path(task_id)}", response)
        body: dict[str, Any] = response.json()
        return body

    def state(self, task_id: str) -> str:
        """The task's state as `GET /tasks/<id>` shows it."""
        state: str = self.status(task_id)["state"]
        return state
