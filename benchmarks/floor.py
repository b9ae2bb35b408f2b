"""The floor: the least a webhook receiver can do. Verify X-Hub-Signature-256 over the raw body and
answer 202, without parsing anything. Run as its own process:

    FLOOR_WEBHOOK_SECRET=... python -m benchmarks.floor --port 8090
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os

from aiohttp import web


def create_floor_app(secret: str) -> web.Application:
    key = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            return web.Response(status=401)
        return web.Response(status=202)

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ["FLOOR_WEBHOOK_SECRET"]
    web.run_app(create_floor_app(secret), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
