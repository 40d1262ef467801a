from __future__ import annotations

from cityline_common.settings import CommonSettings, InternalAuthSettings


class Settings(CommonSettings, InternalAuthSettings):
    """dispatcher's own settings join here with its feature issue;
    the keys of its internal API's tokens are here already."""
