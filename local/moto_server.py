"""Runs moto's AWS API emulator for the project's tests and `npm run emulator`.

Why not plain `python -m moto.server`:
- Requests are serialized. moto's backends are not thread-safe: under its threaded server two
  conditional writes or TransactWriteItems calls can interleave between checking a condition and
  applying the write, so both succeed. Real DynamoDB is atomic per item and per transaction, and
  the registry's concurrency tests rely on that. One lock around each request restores it; the
  server stays threaded, so keep-alive connections still work.
- It binds port 0 and prints the port it got (`MOTO_READY <port>`), so there is no race between
  picking a free port and binding it.
- Request logging is off (one line per request drowns test output).
"""

import argparse
import signal
import sys
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class SerializedApp:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, SerializedApp(app), threaded=True, request_handler=QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    print(f"MOTO_READY {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
