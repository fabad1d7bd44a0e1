"""What every provider fake that is a real HTTP server shares: it listens on 127.0.0.1 (port 0 picks a free one),
serves a WSGI callable with werkzeug in a daemon thread (threaded, so a slow answer does not hold up the next
request), starts and stops from the test or a ``with`` block, and keeps werkzeug's access log out of test output.

A fake subclasses FakeServer, sets ``name`` and implements ``wsgi_app(environ, start_response)``; ``_stopping`` is
set while it stops, so an answer that waits ("slow" scenarios) can wait on it and be released."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the access log line per request (errors are still logged)."""

    def log_request(self, code="-", size="-"):
        """Log nothing for a served request."""


class FakeServer:
    """A fake's server lifecycle: ``start``/``stop``, ``with`` support and ``url``."""

    name = "fake"
    # How often serve_forever looks for a shutdown: short, so stop() returns quickly.
    poll_interval = 0.05

    def __init__(self, port=0, *, host="127.0.0.1"):
        """Remember where to listen; nothing listens before ``start``."""
        self.host, self.port = host, port
        self._stopping = threading.Event()
        self._server = self._thread = None

    def wsgi_app(self, environ, start_response):
        """Answer one request (subclasses)."""
        raise NotImplementedError

    def start(self):
        """Listen and serve in a daemon thread; returns self."""
        self._stopping.clear()
        self._server = make_server(self.host, self.port, self.wsgi_app, threaded=True, request_handler=QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": self.poll_interval},
                                        name=f"{self.name}-fake-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket (later connections are refused); a waiting answer is released.
        Idempotent."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def url(self):
        """The base URL to configure, e.g. ``http://127.0.0.1:53211``."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self):
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info):
        """Stop on leaving the ``with`` block."""
        self.stop()
