"""Keep-alive connections closed after about N requests, so that load spreads
over the server's workers again.

uvicorn's workers share one listening socket, and a keep-alive connection stays
with the worker that accepted it for as long as it lives. A few busy clients
(API scripts, a proxy's pool of upstream connections, the benchmark's four)
can all land on one worker, which then serves them all on one core while the
other workers idle; nothing moves them until they disconnect. Measured here
(two workers, four clients, the API list, 8 s, the connections made anew each
run): in a third of the runs one worker did all the work, at 135 req/s and p95
45–60 ms against 186–197 req/s and p95 27–28 ms when the clients were spread.

So about one response in N says `Connection: close`, as Apache closes a
connection after `MaxKeepAliveRequests` (100) and nginx after
`keepalive_requests` (1,000). The client connects again, and the new
connection goes to the worker that accepts it first, most often an idle one.
One response in N is chosen at random rather than counted per connection: the
server does not tell an application which connection a request came on, and a
count kept per client address would grow without bound.
"""

import random


class RecycledConnections:
    """ASGI middleware: `Connection: close` on about one response in `every`
    (never when `every` is 0)."""

    def __init__(self, app, every: int):
        self.app = app
        self.chance = 1 / every if every > 0 else 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or random.random() >= self.chance:
            return await self.app(scope, receive, send)

        async def closing(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return await self.app(scope, receive, closing)
