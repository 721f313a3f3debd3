"""Celery tasks of the issues app (found by autodiscovery). Each task lives with
the code it runs; this module only makes sure the worker imports them."""
