from cityline_common.migrations import run_env

from segment_service.manifest import MANIFEST

run_env(MANIFEST)
