from cityline_common.migrations import run_env

from dispatcher.adapters.orm import SCHEMA

run_env(SCHEMA)
