import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# Each ASGI request runs in a thread of its own (kept for later requests, up to
# a limit: asgi_handler.py). A connection per thread would keep as many open as
# the peak of concurrent requests: the server shares a pool instead (settings.py).
os.environ.setdefault("DATABASE_POOL", "true")

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from tracker.asgi_handler import OneHopASGIHandler  # noqa: E402 (needs the apps loaded)
from tracker.keepalive import RecycledConnections  # noqa: E402

application = RecycledConnections(OneHopASGIHandler(), every=settings.KEEPALIVE_REQUESTS)
