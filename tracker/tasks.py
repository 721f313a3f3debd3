from celery import shared_task


@shared_task(name="tracker.ping", ignore_result=False)
def ping() -> str:
    """Round trip through the broker; used by the stack test and by operators to
    prove a worker is consuming (hence its result is kept: they wait for it)."""
    return "pong"
