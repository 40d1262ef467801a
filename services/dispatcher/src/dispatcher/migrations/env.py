from cityline_common.migrations import run_env

from dispatcher.manifest import MANIFEST

run_env(MANIFEST)
