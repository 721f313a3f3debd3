import gc
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

# What is loaded by now lives as long as the process: frozen (gc.freeze), it is
# left out of the garbage collector's full collections, which otherwise walk
# every object Django and the apps made at startup again. An API issue detail
# in process: 3.86 and 3.88 M instructions a request unfrozen, 3.74 and 3.76 M
# frozen (callgrind, 50 and 350 requests, the difference; 2026-12-07).
gc.freeze()
