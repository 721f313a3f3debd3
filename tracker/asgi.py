import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# Each ASGI request runs in a thread of its own, where a persistent connection is
# never reused: the server shares a pool of connections instead (settings.py).
os.environ.setdefault("DATABASE_POOL", "true")

application = get_asgi_application()
