# PostgreSQL with the RUM extension that Tracker's full-text search index uses
# (issues migration 0004/0006). The official image carries the PostgreSQL apt
# repository, which ships the extension for its major version.
FROM postgres:15-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-rum" \
    && rm -rf /var/lib/apt/lists/*
