from cityline_common.migrations import run_env

from admin_ui.adapters.orm import SCHEMA

run_env(SCHEMA)
