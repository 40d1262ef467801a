"""Gunicorn settings for admin-ui; started as
gunicorn -c python:admin_ui.entrypoints.gunicorn_conf 'admin_ui.entrypoints.flask_app:create_app()'
"""

from cityline_common.gunicorn_hooks import bind_from_env, child_exit, post_fork

bind = bind_from_env("ADMIN_UI_PORT", 8000)
workers = 2
worker_class = "gthread"
threads = 4
proc_name = "admin-ui"
accesslog = "-"
graceful_timeout = 20

__all__ = ["bind", "child_exit", "post_fork", "proc_name", "threads", "worker_class", "workers"]
