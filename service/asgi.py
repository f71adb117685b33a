"""The ASGI entry point for uvicorn: `uvicorn service.asgi:app`."""

from service.logs import configure_logging
from service.main import create_app

configure_logging()
app = create_app()
