"""gunicorn's entry point: `web_service.wsgi:app`."""

from web_service.factory import create_app

app = create_app()
