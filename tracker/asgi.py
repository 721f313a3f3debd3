import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# Each ASGI request runs in a thread of its own, where a persistent connection is
# never reused: the server shares a pool of connections instead (settings.py).
os.environ.setdefault("DATABASE_POOL", "true")

django.setup(set_prefix=False)

from tracker.asgi_handler import OneHopASGIHandler  # noqa: E402 (needs the apps loaded)

application = OneHopASGIHandler()
