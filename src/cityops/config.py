"""Settings from the environment (``CITYOPS_*``) and an optional TOML file (``CITYOPS_CONFIG`` or ./cityops.toml)."""

from __future__ import annotations

import os
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_path() -> Path:
    return Path(os.environ.get("CITYOPS_CONFIG", "cityops.toml"))


class StepLimits(BaseSettings):
    """Step deadlines of the loop (the seed's "15 minutes to arrive, 30 minutes to feed back")."""

    model_config = SettingsConfigDict(extra="forbid")

    arrive_minutes: float = 15.0
    feedback_minutes: float = 30.0
    # 核实+立案 within one working hour of the report (REFERENCE: verification+filing ≤ 1 working hour).
    file_working_hours: float = 1.0
    # 核查 within one working hour of feedback.
    check_working_hours: float = 1.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYOPS_", env_nested_delimiter="__", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/cityops.db"
    redis_url: str | None = None
    timezone: str = "Asia/Shanghai"
    district_code: str = "410802"
    log_level: str = "INFO"
    log_json: bool = False
    token_ttl_hours: float = 12.0
    device_token_ttl_days: float = 365.0
    office_windows: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(8, 30), time(12, 0)), (time(14, 30), time(18, 0))]
    )
    steps: StepLimits = Field(default_factory=StepLimits)
    sweep_interval_seconds: float = 30.0
    # A point outside every imported area is refused, unless no geography is loaded yet.
    require_in_district: bool = True
    media_dir: Path = Path("./var/media")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
