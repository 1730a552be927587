# GradeWatch: ONE image for every role of the platform, each started with its own command
# (docker-compose.yml, terraform/):
#
#   gradewatch db upgrade                                   one-shot migration (Alembic)
#   dagster instance migrate                                one-shot Dagster storage migration
#   gradewatch serve --host 0.0.0.0 --port 5000              the web app (the default CMD)
#   dagster code-server start -h 0.0.0.0 -p 4000 -m gradewatch_assets.definitions
#                                                            the code location (gRPC); runs execute here
#   dagster-webserver -h 0.0.0.0 -p 3000 -w $DAGSTER_HOME/workspace.yaml    the Dagster UI
#   dagster-daemon run -w $DAGSTER_HOME/workspace.yaml                      sensors, schedules, run queue
#
# One image rather than one per role: the roles share every dependency (the web app and the
# code location both import `gradewatch`; the webserver and the daemon import it for the logging
# handler named in dagster.yaml), so separate images would be near-copies of each other, and a
# DockerRunLauncher / K8sRunLauncher (docs/scaling.md) can start run workers from this very image.
#
# Build:  docker build -t gradewatch:local .
#
# Base images are pinned by exact version AND digest (the multi-arch index digest), so a
# rebuild gets byte-identical bases. To move to a newer patch release, read the new digest with
#   docker buildx imagetools inspect python:3.11.X-slim-bookworm
# and update both lines together. Python 3.11 matches `requires-python` and the development
# machines; Debian bookworm matches them too.

# ---------------------------------------------------------------------------------------------
# Stage 1: resolve and install exactly the locked dependencies (uv.lock) into /opt/venv.
# ---------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder

# uv, pinned by version and digest; 0.13.0 reads this project's uv.lock (checked with `uv lock --check`).
COPY --from=ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168 /uv /usr/local/bin/uv

# Compile bytecode at build time (the runtime image never writes .pyc), copy rather than
# hard-link out of the cache mount, use the image's Python and never download one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
# --locked fails the build if uv.lock is out of date with pyproject.toml; --no-dev leaves out
# pytest, ruff and the other development tools.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# Then the project itself, installed as a regular (non-editable) wheel: the source tree is not
# needed at run time, and the wheel carries the Alembic migrations (pyproject force-include).
COPY README.md ./
COPY gradewatch ./gradewatch
COPY gradewatch_assets ./gradewatch_assets
COPY webapp ./webapp
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# Stage 2: the runtime image: the same Python base, the virtual environment, the Dagster
# instance configuration, and nothing else (no compiler, no uv, no source tree, no apt).
# ---------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime

ARG GRADEWATCH_VERSION=0.1.0
ARG GRADEWATCH_REVISION=unknown
LABEL org.opencontainers.image.title="gradewatch" \
      org.opencontainers.image.description="GradeWatch: web app, Dagster code location, webserver and daemon" \
      org.opencontainers.image.version="${GRADEWATCH_VERSION}" \
      org.opencontainers.image.revision="${GRADEWATCH_REVISION}" \
      org.opencontainers.image.licenses="Proprietary"

# A fixed, unprivileged user (numeric ids, so that Kubernetes' runAsNonRoot can verify it).
RUN groupadd --system --gid 10001 gradewatch \
    && useradd --system --uid 10001 --gid gradewatch --no-create-home \
       --home-dir /opt/dagster --shell /usr/sbin/nologin gradewatch

COPY --from=builder /opt/venv /opt/venv

# The Dagster instance of the containers. The image carries the PRODUCTION variant as
# $DAGSTER_HOME/dagster.yaml (dagster-postgres storage, run queue limits, python_logs), which
# reads its connection settings from DAGSTER_PG_HOST / _PORT / _USER / _PASSWORD / _DB at run
# time; the local variant (SQLite) in dagster_home/dagster.yaml is for `gradewatch up` only.
# It is copied into the image rather than mounted so that every place this image runs (compose,
# Terraform on a remote Docker host with no checkout, a DockerRunLauncher or Kubernetes run
# worker) sees the same instance configuration, and no secret is in it. The workspace file
# points the webserver and the daemon at the code-location container over gRPC.
# The files belong to root and are read-only for the app; the directory itself and storage/
# (compute logs, the default I/O manager's files: a named volume in compose) are writable.
ENV DAGSTER_HOME=/opt/dagster/dagster_home
COPY dagster_home/dagster.production.yaml /opt/dagster/dagster_home/dagster.yaml
COPY dagster_home/workspace.docker.yaml /opt/dagster/dagster_home/workspace.yaml
RUN install -d -o gradewatch -g gradewatch -m 0750 \
        /opt/dagster/dagster_home/storage /var/lib/gradewatch /var/lib/gradewatch/inbox \
    && chown gradewatch:gradewatch /opt/dagster/dagster_home \
    && chmod 0644 /opt/dagster/dagster_home/dagster.yaml /opt/dagster/dagster_home/workspace.yaml

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRADEWATCH_ENVIRONMENT=production

WORKDIR /opt/dagster
USER 10001:10001

# 5000 web app, 3000 Dagster UI, 4000 code location (gRPC, internal only).
EXPOSE 5000 3000 4000

# The default role is the web app, and this checks it: /health answers 200 only when the
# database is reachable and migrated (urlopen raises on 503). The other roles override the
# check in docker-compose.yml and terraform/ (gRPC health check, /server_info, daemon liveness).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]

CMD ["gradewatch", "serve", "--host", "0.0.0.0", "--port", "5000"]
