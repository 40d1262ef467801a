"""Gunicorn settings for segment-service; started as
gunicorn -c python:segment_service.entrypoints.gunicorn_conf 'segment_service.entrypoints.flask_app:create_app()'
"""

from cityline_common.gunicorn_hooks import bind_from_env, child_exit, post_fork

bind = bind_from_env("SEGMENT_SERVICE_PORT", 8002)
workers = 2
worker_class = "gthread"
threads = 4
proc_name = "segment-service"
accesslog = "-"
graceful_timeout = 20

__all__ = ["bind", "child_exit", "post_fork", "proc_name", "threads", "worker_class", "workers"]
