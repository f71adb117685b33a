"""Settings, read from environment variables with the AVV_ prefix (see README, "Settings")."""

from __future__ import annotations

import json
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CATEGORIES: dict[str, str] = {
    "treatment": "Bemötande",
    "documentation": "Dokumentation",
    "communication": "Kommunikation/information",
    "case_handling": "Handläggning",
    "care": "Omvårdnad",
    "medication": "Läkemedel",
    "it_support": "IT-stöd",
    "safety": "Säkerhet",
    "confidentiality": "Sekretess",
    "other": "Övrigt",
}


DEFAULT_ROOT_CAUSES: dict[str, str] = {
    "missing_routine": "Rutin saknas",
    "deficient_routine": "Rutinen är bristfällig",
    "routine_not_known": "Rutinen är inte känd",
    "routine_not_followed": "Rutinen följs inte",
    "staffing": "Bemanning/vakanser",
    "competence": "Kompetens",
    "communication": "Kommunikation",
    "it_system": "IT-system",
    "premises_equipment": "Lokaler/utrustning",
    "other": "Övrigt",
}


# The folder holding the `service` package: a checkout of the project (or the container's /app) when it
# has a pyproject.toml beside it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """Where the embedded database and the development key live unless told otherwise.

    Never the working directory, so that every command finds the same files wherever it is run from:
    `data/` in the project's checkout, or, for an installed package, `avvikelser/` in the user's data
    folder (XDG_DATA_HOME, by default ~/.local/share).
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data"
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "avvikelser"
# An origin as browsers send it: scheme, host and an optional port, nothing after.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _origin_list(value: object) -> object:
    """A JSON list or a comma- or space-separated list of origins; each must be a bare origin."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else [part for part in re.split(r"[,\s]+", text) if part]
    if isinstance(value, list):
        for origin in value:
            if not isinstance(origin, str) or not _ORIGIN.match(origin):
                raise ValueError(f"not an origin (scheme://host[:port], no path, no wildcard): {origin!r}")
        return [origin.rstrip("/") for origin in value]
    return value


Origins = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVV_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    # The folder of the embedded database and the development key (the two settings below default into it).
    # A relative AVV_DATA_DIR is taken from the working directory at start and made absolute.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = Field(default_factory=lambda data: f"sqlite:///{data['data_dir'] / 'avvikelser.db'}")

    # Identity. "dev" signs and accepts tokens from a key generated on this machine;
    # "oidc" accepts only RS256 tokens from the configured issuer's JWKS.
    auth_mode: Literal["dev", "oidc"] = "dev"
    oidc_issuer: str = "urn:avvikelser:dev"
    oidc_audience: str = "avvikelser-api"
    oidc_jwks_url: str | None = None  # discovered from the issuer when unset
    # The JOSE header `typ` values accepted on access tokens (RFC 9068: `at+jwt`). Providers that type
    # their access tokens `JWT` (or not at all) need `JWT` here; ID tokens are refused either way by
    # their claims (service/tokens.py). Comma-separated or a JSON list.
    oidc_access_token_types: Annotated[tuple[str, ...], NoDecode] = ("at+jwt",)
    jwks_cache_seconds: int = 600
    # How long a verified token, and a subject's stored grants, are remembered by one process. A withdrawn
    # signing key takes effect within the first; a grant or org change clears the other two at once, on
    # every instance of a PostgreSQL database too (service/cache_signal.py): they bound staleness otherwise.
    token_cache_seconds: float = 30.0
    grant_cache_seconds: float = 5.0
    org_cache_seconds: float = 5.0  # the org tree as intake sees it
    dev_key_path: Path = Field(default_factory=lambda data: data["data_dir"] / "dev-signing-key.pem")
    # Where role grants come from: the service's own grant table, or the token's `grants` claim.
    grant_source: Literal["service", "token"] = "service"

    # How often the audit log's new records are sealed into its hash chain (service/audit.py); 0: never
    # (tests seal by hand). Every instance may run it; on PostgreSQL one seals at a time, others skip.
    audit_seal_seconds: float = 5.0

    # Operations (README, "Running it in production"). The log format is read by service/logs.py before
    # the settings are: json (the default in production) or text (the default otherwise).
    log_format: Literal["json", "text"] | None = None
    access_log: bool = True  # one service.access line per request (not for /healthz and /readyz)
    # Prometheus metrics on a listener of their own (unset: none), reachable from the scraper only.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    metrics_cache_seconds: float = 5.0
    # On SIGTERM /readyz answers 503 at once; the server keeps serving this long before it stops taking
    # connections, so that the load balancer sees the instance leave first. In-flight requests finish either way.
    drain_seconds: float = Field(default=0.0, ge=0)

    max_body_bytes: int = 1_048_576
    # The history import's NDJSON and CSV bodies (POST /api/v1/imports/reports), read as a stream; its JSON
    # bodies keep max_body_bytes. 100 000 cases as NDJSON are about 60 MB.
    max_import_bytes: int = Field(default=268_435_456, ge=1)
    default_page_size: int = 50
    max_page_size: int = 200
    # Signs pagination cursors so clients cannot craft them. Must be shared by all instances.
    cursor_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))

    # The report categories a new förvaltning starts with (code → Swedish label). The lists themselves are
    # data, per förvaltning, managed through the API (service/categories.py); this seeds new ones only.
    report_categories: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    # Policy numbers (docs/domain.md, Deadlines), not law: a report is flagged late when it reaches us this long after
    # it was noticed; an IVO notification is warned and escalated this long after the case was judged
    # serious; an open investigation is flagged this long after it started; a report not yet assessed is
    # due for its first assessment this long after it was received.
    late_report_hours: int = 24
    first_assessment_hours: int = Field(default=24, ge=1)
    ivo_warn_days: int = 7
    ivo_escalate_days: int = 14
    investigation_days: int = 30
    # A report that reached us on paper, by phone or in person may be registered later as received then,
    # at most this many days back (docs/domain.md, "Registered later"); integration clients may do so
    # only when allowed here.
    late_registration_days: int = Field(default=90, ge=1, le=3660)
    late_registration_by_clients: bool = False
    root_causes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROOT_CAUSES))
    # Small-count suppression of every statistics answer (docs/statistics.md, "Small counts"): counts from 1
    # to this minus one are hidden, by default and at the least; callers may ask for more (suppress_below),
    # never less. 1 turns suppression off, which is not recommended for figures that leave the nämnd.
    statistics_min_suppress_below: int = Field(default=5, ge=1, le=100)
    # Case numbers count per förvaltning and calendar year in this time zone.
    time_zone: str = "Europe/Stockholm"

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("oidc_access_token_types", mode="before")
    @classmethod
    def _split_token_types(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            parsed = json.loads(text) if text.startswith("[") else text.split(",")
            value = [item.strip() for item in parsed if isinstance(item, str) and item.strip()]
        if not value:
            raise ValueError("at least one access-token typ must be accepted")
        return value
    # Browsers. Origins whose pages may call the API (CORS; empty: none), and whose pages may show the web
    # pages in a frame (CSP frame-ancestors; empty: none). Each is a list like
    # "https://intranat.kommun.se,https://portal.kommun.se".
    cors_origins: Origins = Field(default_factory=list)
    frame_ancestors: Origins = Field(default_factory=list)
    # Browser sessions (service/web_sessions.py): signed out after this long without a request, and
    # after this long whatever happens.
    web_session_idle_minutes: int = Field(default=60, ge=1)
    web_session_max_hours: int = Field(default=12, ge=1)
    # Session cookies are Secure (sent over HTTPS only; browsers count http://localhost as secure too).
    # Turning it off is for plain-HTTP test set-ups on other hosts, and refused in production.
    cookie_secure: bool = True
    # Browser sign-in with OpenID Connect (AVV_AUTH_MODE=oidc): authorization code flow with PKCE against
    # AVV_OIDC_ISSUER. The client id defaults to AVV_OIDC_AUDIENCE; a confidential client also has a
    # secret. The redirect URI is <public_url>/logga-in/callback (public_url: the request's own origin
    # when unset; set it behind a proxy).
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    public_url: str | None = None

    @field_validator("cors_origins", "frame_ancestors", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        return _origin_list(value)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.auth_mode == "dev":
            raise ValueError("AVV_AUTH_MODE=dev is refused when AVV_ENVIRONMENT=production")
        if self.environment == "production" and not self.cookie_secure:
            raise ValueError("AVV_COOKIE_SECURE=false is refused when AVV_ENVIRONMENT=production")
        return self

    @property
    def client_id(self) -> str:
        return self.oidc_client_id or self.oidc_audience

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
