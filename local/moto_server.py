"""Serves moto's AWS API emulator for the project's integration tests and `npm run emulator`.

It builds the same WSGI app as `python -m moto.server` (moto/server.py: a
`DomainDispatcherApplication` over `create_backend_app`, on werkzeug's threaded server) and changes
three things:

- One request at a time. moto's backends are not thread-safe: a conditional write is "look up the
  item, evaluate the condition, store the new item" in plain Python, and TransactWriteItems checks
  every condition before applying any write. On the threaded server two requests can interleave
  between the check and the write, so two conditional writes against the same previous value can
  both succeed. Real DynamoDB is atomic per item and per transaction, and the project relies on
  that (concurrent registrations must each get a distinct version). A lock around each whole
  request, response body included, restores that atomicity. The server stays threaded, so
  keep-alive connections and many open sockets still work; only the handling is one at a time.
- Port 0 by default: the OS picks a free port at bind time and the launcher prints
  `MOTO_READY <port>` once the socket is listening. Nothing can take the port between choosing it
  and binding it, unlike choosing a port in the parent and passing it in.
- `--exit-with-stdin`: exit when standard input reaches end of file, i.e. when the parent that
  holds the other end of the pipe is gone, however it died (even SIGKILL), so no orphan keeps a
  port open. Request logging is off: one line per request drowns the test output.

Checked with moto 5.2.1 (werkzeug 3.1, Flask 3.1).
"""

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class SerializedApp:
    """Runs the wrapped WSGI app for one request at a time, producing the whole body under the lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                # A lazily produced body would run backend code after the lock is released.
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def exit_when_stdin_closes() -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick a free port")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin reaches EOF")
    args = parser.parse_args()

    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    # Some backends build URLs from MOTO_PORT (moto/settings.py); `python -m moto.server` sets it too.
    os.environ["MOTO_PORT"] = str(server.server_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    if args.exit_with_stdin:
        exit_when_stdin_closes()
    print(f"MOTO_READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
