"""The development client of `make run`: its key in `.local/api-key`, registered by moto.

`python -m devstack.dev_client` prints the key (making the file on first use), for the
`curl` lines `make run` shows; `devstack.local_aws --dev-client` registers the same key
as client `dev` each time the endpoint starts (moto keeps nothing between runs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from taskqueue.stores import api_keys

CLIENT = "dev"
KEY_FILE = Path(".local/api-key")


def ensure_key(path: Path = KEY_FILE) -> str:
    """The key in `path`, made (readable by this user only) if the file is not there."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = api_keys.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    return key


def register(dynamodb: Any, table: str, path: Path = KEY_FILE) -> None:
    """Register the key in `path` as client `dev`."""
    api_keys.register(dynamodb, table, CLIENT, ensure_key(path))


if __name__ == "__main__":
    print(ensure_key())
