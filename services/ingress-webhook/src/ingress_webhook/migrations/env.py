from cityline_common.migrations import run_env

from ingress_webhook.manifest import MANIFEST

run_env(MANIFEST)
