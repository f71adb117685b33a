"""The server's own log: one plain line per record on stderr (time, level, logger, message).

Called once at start by `python -m service serve` and by the ASGI entry point (service/asgi.py), so
`scripts/serve` and the container (uvicorn service.asgi:app) log alike. What goes here: refused tokens
(service.auth, the reason only, never the token), failed JWKS refreshes, unexpected errors.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_HANDLER_NAME = "service-stderr"


def configure_logging(level: int = logging.INFO) -> None:
    """Records of the `service.*` loggers at `level` and above go to stderr. Calling it again changes nothing."""
    logger = logging.getLogger("service")
    logger.setLevel(level)
    if any(handler.get_name() == _HANDLER_NAME for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    logger.addHandler(handler)
    # Not also through the root logger: Alembic's logging set-up (alembic.ini) gives it a handler of its own.
    logger.propagate = False
