# The two service images, one target each: `web` (the Flask app served by gunicorn) and
# `worker` (the Celery worker consuming Amazon SQS). The stages both need are written once.
# Build context: the repository root, e.g.
#   docker build --target web -t taskqueue-web .
#   docker build --target worker -t taskqueue-worker .
# PYTHON_IMAGE may be any Debian-like image with `python3` (3.11) and the venv module.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# build: uv and the workspace's metadata, the start of both services' builds.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_FROZEN=1 \
    UV_NO_PROGRESS=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_SYSTEM_CERTS=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# uv lives in its own build-only venv (no system pip install: PEP 668).
# uv trusts the image's CA store (UV_SYSTEM_CERTS), as Debian's pip does, so a build
# behind a TLS-intercepting proxy works with the proxy's CA bundle mounted over
# /etc/ssl/certs/ca-certificates.crt for the RUN steps (containers/build_images.py).
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install uv==0.13.9 \
    && python3 -m venv --without-pip /opt/venv

WORKDIR /src

# Every workspace member's pyproject.toml is needed for uv to read the workspace; no member
# is installed from them.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/web/pyproject.toml services/web/pyproject.toml
COPY services/worker/pyproject.toml services/worker/pyproject.toml

# ---------------------------------------------------------------------------
# web-build, worker-build: the service's third-party dependencies from uv.lock into
# /opt/venv (a layer rebuilt only when the lock or a pyproject.toml changes), then the
# shared package and the service's own sources only (the other service's code never enters
# its venv), installed as regular (non-editable) wheels.
# ---------------------------------------------------------------------------
FROM build AS web-build

RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --no-dev --no-default-groups --no-install-workspace \
        --package taskqueue-web
COPY shared/src shared/src
COPY services/web/src services/web/src
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --no-dev --no-default-groups --no-editable \
        --package taskqueue-web

FROM build AS worker-build

RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --no-dev --no-default-groups --no-install-workspace \
        --package taskqueue-worker
COPY shared/src shared/src
COPY services/worker/src services/worker/src
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --no-dev --no-default-groups --no-editable \
        --package taskqueue-worker

# ---------------------------------------------------------------------------
# runtime: what both images are, a fixed non-root uid and a writable /tmp; each target
# adds its service's venv and how to run and probe it.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

# The task definition mounts a task volume on /tmp (read-only root filesystem). Fargate makes
# such a volume a root-owned 0755 directory unless the image declares a VOLUME there, whose
# directory (here 1777, writable by uid 10001) is then copied in (issue 12, item 1).
RUN chmod 1777 /tmp
VOLUME /tmp

WORKDIR /home/app
USER 10001:10001

# ---------------------------------------------------------------------------
# web: the web service's venv, served on port 8000.
# ---------------------------------------------------------------------------
FROM runtime AS web

COPY --from=web-build --chown=10001:10001 /opt/venv /opt/venv

ENV WEB_BIND=0.0.0.0:8000
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["web-healthcheck"]

# The one start command (services/web/src/web_service/start.py holds its flags).
CMD ["taskqueue-web"]

# ---------------------------------------------------------------------------
# worker: the worker service's venv (also the compose file's one-shot bootstrap).
# ---------------------------------------------------------------------------
FROM runtime AS worker

COPY --from=worker-build --chown=10001:10001 /opt/venv /opt/venv

# Celery's warm shutdown: finish the running tasks, then exit.
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["worker-healthcheck"]

# The one start command (services/worker/src/worker_service/start.py holds its flags).
CMD ["taskqueue-worker"]

# ---------------------------------------------------------------------------
# web-diagnostics, worker-diagnostics: a service's image with the diagnostic tasks (fail,
# crash, retry_then_succeed, check_secret: devstack/diagnostic_tasks.py) on its path, for a
# stack that turns DIAGNOSTIC_TASKS on (the rehearsal's, a test's). A prod stage refuses
# diagnosticTasks, so its images are `web` and `worker`, which never hold them.
# ---------------------------------------------------------------------------
FROM web AS web-diagnostics
COPY devstack/__init__.py devstack/diagnostic_tasks.py /opt/diagnostics/devstack/
ENV PYTHONPATH=/opt/diagnostics

FROM worker AS worker-diagnostics
COPY devstack/__init__.py devstack/diagnostic_tasks.py /opt/diagnostics/devstack/
ENV PYTHONPATH=/opt/diagnostics
