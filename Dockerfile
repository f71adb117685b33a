# syntax=docker/dockerfile:1
# Build:  docker build -t avvikelser .
# Run:    docker run -p 8000:8000 -e AVV_DATABASE_URL=postgresql+psycopg://... \
#           -e AVV_AUTH_MODE=oidc -e AVV_OIDC_ISSUER=https://idp.example/realms/kommun \
#           -e AVV_OIDC_AUDIENCE=avvikelser-api -e AVV_CURSOR_SECRET=... avvikelser

# --- build: resolve and install the dependencies into a venv (compilers stay here) ---
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements/runtime.txt ./requirements.txt
# Only what serving needs, from the lock: every version pinned and every file checked against its hash,
# so a build next year installs the same packages. This layer is reused until the lock changes.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt

# --- runtime: slim, no build tools, not root ---
FROM python:3.11-slim-bookworm AS runtime
RUN useradd --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# pyproject.toml: the service reads its version from it (service/__init__.py), the package is not installed.
COPY pyproject.toml alembic.ini ./
COPY migrations ./migrations
COPY service ./service
RUN mkdir -p /app/data && chown app:app /app/data
# AVV_DATA_DIR: where the embedded database and a development key would go (the service's default
# would be the same folder; said here so that the image does not depend on how it is laid out).
ENV PATH=/opt/venv/bin:$PATH \
    AVV_DATA_DIR=/app/data \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AVV_ENVIRONMENT=production \
    AVV_LOG_FORMAT=json
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001
EXPOSE 8000
# Prometheus metrics, when AVV_METRICS_PORT=9464 is set: publish it to the scraper's network only.
EXPOSE 9464
# Migrate, then hand PID 1 to uvicorn so it receives SIGTERM and drains gracefully.
# With several replicas, run `python -m service migrate` once as a release step instead.
# Set FORWARDED_ALLOW_IPS to the load balancer's address so X-Forwarded-* is trusted from it only.
# The service's own log is JSON lines on stdout (service/logs.py): one access line per request, refusals
# and why, errors; uvicorn's access log is off because it names paths as sent.
CMD ["sh", "-c", "python -m service migrate && exec uvicorn service.asgi:app --host 0.0.0.0 --port 8000 --proxy-headers --timeout-graceful-shutdown 20 --no-access-log"]
