"""Django's PostgreSQL backend with a cheaper check of pooled connections and a
faster timestamp loader (settings.DATABASES ENGINE "tracker.postgresql"; see base.py)."""
