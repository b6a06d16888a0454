"""The WSGI entry point gunicorn serves: ``gunicorn search_app.wsgi:app``."""

from . import create_app

app = create_app()
