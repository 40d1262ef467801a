"""Gunicorn settings for richmenu-service; started as
gunicorn -c python:richmenu_service.entrypoints.gunicorn_conf 'richmenu_service.entrypoints.flask_app:create_app()'
"""

from cityline_common.gunicorn_hooks import bind_from_env, child_exit, post_fork

bind = bind_from_env("RICHMENU_SERVICE_PORT", 8003)
workers = 2
worker_class = "gthread"
threads = 4
proc_name = "richmenu-service"
accesslog = "-"
graceful_timeout = 20

__all__ = ["bind", "child_exit", "post_fork", "proc_name", "threads", "worker_class", "workers"]
