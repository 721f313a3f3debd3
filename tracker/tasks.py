from celery import shared_task


@shared_task(name="tracker.ping")
def ping() -> str:
    """Round trip through the broker; used by the stack test and by operators to
    prove a worker is consuming."""
    return "pong"
