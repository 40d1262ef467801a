"""Gunicorn settings for dispatcher; started as
gunicorn -c python:dispatcher.entrypoints.gunicorn_conf 'dispatcher.entrypoints.flask_app:create_app()'
"""

from cityline_common.gunicorn_hooks import bind_from_env, child_exit, post_fork

bind = bind_from_env("DISPATCHER_PORT", 8004)
workers = 2
worker_class = "gthread"
threads = 4
proc_name = "dispatcher"
accesslog = "-"
graceful_timeout = 20

__all__ = ["bind", "child_exit", "post_fork", "proc_name", "threads", "worker_class", "workers"]
