from __future__ import annotations

from zoneinfo import ZoneInfo

from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings
from pydantic import Field, field_validator

from segment_service.domain.friends import CITY_TIMEZONE, city_timezone


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings):
    """segment-service: keys for the personal data it stores, and for its internal API's tokens."""

    # The city's time zone: follows and blocks are counted per calendar day there (ダッシュボード).
    city_timezone: str = Field(default=CITY_TIMEZONE, description="IANA time zone of the city's calendar days.")

    @field_validator("city_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        city_timezone(value)  # ValueError names the zone
        return value

    def timezone(self) -> ZoneInfo:
        return city_timezone(self.city_timezone)
