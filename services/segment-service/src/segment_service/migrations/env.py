from cityline_common.migrations import run_env

from segment_service.adapters.orm import SCHEMA

run_env(SCHEMA)
