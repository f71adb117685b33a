"""The ASGI entry point for uvicorn: `uvicorn service.asgi:app`."""

import gc

from service.logs import configure_logging
from service.main import create_app

configure_logging()
app = create_app()

# What exists now (the modules, the app with its routes, models and prepared statements) lives as long as the
# process: kept out of the cyclic garbage collector's full passes, each of which would otherwise walk these
# ~200 000 objects again; the collector took a tenth of a busy server's CPU (bench/README.md, "Reads").
gc.collect()
gc.freeze()
