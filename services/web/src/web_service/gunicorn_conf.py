"""gunicorn settings, from the same settings object as the app (`--config python:...`)."""

from taskqueue.settings import get_settings

_settings = get_settings()

bind = [_settings.web_bind]
workers = _settings.web_workers
# Threads: a request mostly waits on SQS/DynamoDB, so a thread pool serves several at once.
worker_class = "gthread"
threads = _settings.web_threads
# A request never needs long (SDK timeouts are bounded); a stuck worker is replaced.
timeout = 30
# ECS stops a task after 30 s by default: finish in-flight requests before that.
graceful_timeout = 20
# Longer than the load balancer's idle timeout, so the load balancer, not gunicorn, closes an
# idle connection: a request it sends on a connection gunicorn has just closed is a 502
# (ALB user guide, "Connection idle timeout"). Both come from LOAD_BALANCER_IDLE_TIMEOUT.
KEEPALIVE_MARGIN = 5
keepalive = _settings.load_balancer_idle_timeout + KEEPALIVE_MARGIN
# The app logs one JSON line per request; gunicorn's own access log would say it twice.
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
# No runtime control socket: it would live in $HOME, shared by every gunicorn on the host.
control_socket_disable = True
