"""Gunicorn settings for ingress-webhook; started as
gunicorn -c python:ingress_webhook.entrypoints.gunicorn_conf 'ingress_webhook.entrypoints.flask_app:create_app()'
"""

from cityline_common.gunicorn_hooks import bind_from_env, child_exit, post_fork

bind = bind_from_env("INGRESS_WEBHOOK_PORT", 8001)
workers = 2
# Threads let one worker wait on many broker confirms at once; confirms are batched by the broker.
worker_class = "gthread"
threads = 16
proc_name = "ingress-webhook"
accesslog = "-"
graceful_timeout = 20

__all__ = ["bind", "child_exit", "post_fork", "proc_name", "threads", "worker_class", "workers"]
