# One image for every process: web (ASGI), Celery worker and Celery beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libmagic identifies uploads by content; the PostgreSQL client is for backups.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time and served by WhiteNoise.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://unused/unused \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 --home-dir /app tracker \
    && mkdir -p /data/media \
    && chown -R tracker /data
USER tracker

ENV MEDIA_ROOT=/data/media \
    WEB_CONCURRENCY=2
EXPOSE 8000
# With PROMETHEUS_MULTIPROC_DIR set (compose sets it for `web`), the worker
# processes share their metrics through files there, emptied at every start.
CMD ["sh", "-c", "if [ -n \"$PROMETHEUS_MULTIPROC_DIR\" ]; then rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\"; fi; exec uvicorn tracker.asgi:application --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY} --proxy-headers --forwarded-allow-ips='*' --no-server-header --timeout-graceful-shutdown 5"]
