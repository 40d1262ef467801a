from cityline_common.migrations import run_env

from ingress_webhook.adapters.orm import SCHEMA

run_env(SCHEMA)
