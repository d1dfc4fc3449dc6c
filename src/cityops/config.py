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


class TrackingSettings(BaseSettings):
    """Field tracking: fix filters (as Traccar's), connectivity, arrival, travel-time estimate, history."""

    model_config = SettingsConfigDict(extra="forbid")

    accuracy_limit_m: float = 100.0  # a fix less accurate than this is dropped
    max_speed_mps: float = 55.0  # ≈ 200 km/h: a faster jump from the last fix is a GPS glitch
    future_limit_s: float = 600.0  # fixes stamped further ahead of the server clock are dropped
    past_limit_s: float = 2 * 86400.0  # older fixes (a phone's buffer replayed days later) are dropped
    online_timeout_s: float = 120.0  # last fix younger than this: online
    offline_timeout_s: float = 600.0  # older than this (or none): offline; in between: unknown
    arrival_radius_m: float = 50.0
    road_factor: float = 1.3  # straight line × factor ≈ street distance when no road graph is loaded
    mode_speeds_mps: dict[str, float] = Field(default_factory=lambda: {"walk": 1.4, "bike": 4.2, "car": 8.3})
    retention_days: float = 90.0
    history_flush_s: float = 1.0  # at most this much of accepted fixes is lost on a crash


class MediaLimits(BaseSettings):
    """Evidence uploads: size limits per kind, how long an upload lives, and when EXIF disagrees with the case."""

    model_config = SettingsConfigDict(extra="forbid")

    max_image_bytes: int = Field(default=30 * 2**20, gt=0)
    max_video_bytes: int = Field(default=2 * 2**30, gt=0)
    max_audio_bytes: int = Field(default=200 * 2**20, gt=0)
    # An unfinished upload (and a finished one never attached to a case) is purged this long after its last chunk.
    upload_expiry_hours: float = Field(default=24.0, gt=0)
    # A PATCH that receives nothing for this long is cut, keeping what arrived (a 4G drop sends no FIN).
    upload_idle_seconds: float = Field(default=60.0, gt=0)
    purge_interval_seconds: float = Field(default=600.0, gt=0)
    # EXIF/device place or time further than this from the case is flagged (not refused).
    place_limit_m: float = Field(default=300.0, gt=0)
    time_limit_minutes: float = Field(default=120.0, gt=0)


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
    # Web map: OpenStreetMap by default; empty tile_url draws only our own grids and roads (no internet needed).
    # tile_crs "gcj02" for mainland providers such as AMap; WGS-84 data is shifted only when drawn.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap contributors"
    tile_crs: str = "wgs84"
    map_center_lat: float = 35.23
    map_center_lon: float = 113.24
    map_zoom: int = 15
    # Evaluation weights, grade bands, flag thresholds (cityops/evaluation/data/evaluation.toml holds the
    # defaults): a TOML file and/or an inline [evaluation] table, both merged over the defaults.
    evaluation_file: Path | None = None
    evaluation: dict[str, Any] = Field(default_factory=dict)
    media: MediaLimits = Field(default_factory=MediaLimits)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    # Dedicated OsmAnd (Traccar Client) port, e.g. 5055; off unless set (`cityops serve --osmand-port 5055`).
    osmand_port: int | None = None
    osmand_host: str = "0.0.0.0"  # phones on the network must reach it, even when the API listens on localhost

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
