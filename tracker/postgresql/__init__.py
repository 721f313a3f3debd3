"""Django's PostgreSQL backend with a cheaper check of pooled connections
(settings.DATABASES ENGINE "tracker.postgresql"; see base.py)."""
