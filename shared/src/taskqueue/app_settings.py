"""The settings a Flask app was built with, kept on the app itself.

The composition root (`taskqueue.factory.create_flask_app`) puts them there; code that runs
inside an app (the web's views, a task's run) reads them back with `settings_of`. A module
of its own, beside `taskqueue.settings`, so that reading them imports nothing above it.
"""

from __future__ import annotations

from flask import Flask

from taskqueue.settings import Settings

SETTINGS_KEY = "taskqueue.settings"


def attach_settings(app: Flask, settings: Settings) -> None:
    """Keep `settings` on `app` for `settings_of`."""
    app.extensions[SETTINGS_KEY] = settings


def settings_of(app: Flask) -> Settings:
    """The settings the app was built with."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    return settings
