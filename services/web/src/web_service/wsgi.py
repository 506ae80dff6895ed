"""gunicorn's entry point: `web_service.wsgi:app`."""

from web_service.web_app import create_app

app = create_app()
