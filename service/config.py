"""Settings, read from environment variables with the AVV_ prefix (see README, "Settings")."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVV_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./data/avvikelser.db"

    # Identity. "dev" signs and accepts tokens from a key generated on this machine;
    # "oidc" accepts only RS256 tokens from the configured issuer's JWKS.
    auth_mode: Literal["dev", "oidc"] = "dev"
    oidc_issuer: str = "urn:avvikelser:dev"
    oidc_audience: str = "avvikelser-api"
    oidc_jwks_url: str | None = None  # discovered from the issuer when unset
    jwks_cache_seconds: int = 600
    dev_key_path: Path = Path("./data/dev-signing-key.pem")
    # Where role grants come from: the service's own grant table, or the token's `grants` claim.
    grant_source: Literal["service", "token"] = "service"

    max_body_bytes: int = 1_048_576
    default_page_size: int = 50
    max_page_size: int = 200
    # Signs pagination cursors so clients cannot craft them. Must be shared by all instances.
    cursor_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))

    report_categories: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    # Policy (DOMAIN.md §5): a report is flagged as late when it reaches us this long after it was noticed.
    late_report_hours: int = 24
    # Case numbers count per förvaltning and calendar year in this time zone.
    time_zone: str = "Europe/Stockholm"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.auth_mode == "dev":
            raise ValueError("AVV_AUTH_MODE=dev is refused when AVV_ENVIRONMENT=production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
