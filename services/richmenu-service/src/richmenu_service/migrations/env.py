from cityline_common.migrations import run_env

from richmenu_service.adapters.orm import SCHEMA

run_env(SCHEMA)
