# syntax=docker/dockerfile:1
# Build stage: wheels for the core and every plugin in the repo.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dxconnect ./dxconnect
COPY plugins ./plugins
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && for plugin in plugins/*/; do \
         if [ -f "$plugin/pyproject.toml" ]; then pip wheel --no-cache-dir --wheel-dir /wheels "$plugin"; fi; \
       done

# Runtime stage: slim, non-root, gunicorn with the production config.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DXCONNECT_ENV=production \
    BIND=0.0.0.0:8001 \
    MEDIA_ROOT=/app/media
RUN groupadd --system dxconnect && useradd --system --gid dxconnect --home /app dxconnect \
    && mkdir -p /app/media && chown dxconnect:dxconnect /app/media
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --chown=dxconnect:dxconnect wsgi.py gunicorn.conf.py ./
COPY --chown=dxconnect:dxconnect migrations ./migrations
COPY --chown=dxconnect:dxconnect docker-entrypoint.sh ./
USER dxconnect
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8001/api/v1/health/', timeout=4).status == 200 else 1)"
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
