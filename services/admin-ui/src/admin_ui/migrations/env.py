from cityline_common.migrations import run_env

from admin_ui.manifest import MANIFEST

run_env(MANIFEST)
