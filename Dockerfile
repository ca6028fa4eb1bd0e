# syntax=docker/dockerfile:1
# Debian 12 base: its postgresql-client (15) matches the compose database, so backups run in the image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: wheels for the core and every plugin in the repo.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dxconnect ./dxconnect
COPY plugins ./plugins
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && for plugin in plugins/*/; do \
         if [ -f "$plugin/pyproject.toml" ]; then pip wheel --no-cache-dir --wheel-dir /wheels "$plugin"; fi; \
       done

# Test stage (`docker compose --profile test run --rm tests`): the source tree, the test extras
# and the system tools the suite drives (pg_dump, nginx, headless Chromium). Never deployed.
FROM ${PYTHON_IMAGE} AS test
# Unpinned on purpose: Debian's stable security updates are wanted, and exact versions vanish
# from the mirror when superseded, which would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client nginx chromium \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir -e '.[test]' \
    && for plugin in plugins/*/; do \
         if [ -f "$plugin/pyproject.toml" ]; then pip install --no-cache-dir -e "$plugin"; fi; \
       done
CMD ["python", "-m", "pytest"]

# Runtime stage (last, so a plain `docker build .` builds it): slim, non-root, gunicorn.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DXCONNECT_ENV=production \
    BIND=0.0.0.0:8001 \
    MEDIA_ROOT=/app/media
# postgresql-client: scripts/backup.sh and restore.sh run inside the container.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 dxconnect \
    && useradd --system --uid 10001 --gid dxconnect --home-dir /app --no-create-home dxconnect
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && mkdir -p /app/media /app/instance /backups \
    && chown 10001:10001 /app/media /app/instance /backups
COPY --chown=10001:10001 wsgi.py gunicorn.conf.py docker-entrypoint.sh ./
COPY --chown=10001:10001 migrations ./migrations
COPY --chown=10001:10001 scripts ./scripts
# Numeric, so orchestrators can verify "not root" without reading /etc/passwd.
USER 10001:10001
EXPOSE 8001
VOLUME ["/app/media"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8001/api/v1/health/', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
