"""The "typical gidgethub bot" contender: what bedevere or miss-islington do with a delivery, and
nothing more. `sansio.Event.from_http` checks the signature and decodes the whole JSON body, a
`routing.Router` dispatches it, and an `issue_comment` handler finds the first `/code` line and reads
its arguments (the same work as the Probot contender's handler); the answer is 200. Run as its own
process:

    GIDGETHUB_WEBHOOK_SECRET=... python -m benchmarks.gidgethub_bot --port 8091
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, routing, sansio

COMMAND = re.compile(r"^/code(?:\s+(.*))?$", re.IGNORECASE)


def parse_code(body: str) -> dict[str, Any] | None:
    for raw in body.splitlines():
        match = COMMAND.match(raw.strip())
        if not match:
            continue
        words = (match.group(1) or "").split()
        args: dict[str, Any] = {"task_id": None, "service": None, "model": None}
        for index, word in enumerate(words):
            if word == "--service" and index + 1 < len(words):
                args["service"] = words[index + 1]
            elif word == "--model" and index + 1 < len(words):
                args["model"] = words[index + 1]
            elif word.isdigit():
                args["task_id"] = int(word)
        return args
    return None


def create_bot_app(secret: str) -> web.Application:
    router = routing.Router()

    @router.register("issue_comment", action="created")
    async def comment_created(event: sansio.Event) -> None:
        parse_code(event.data["comment"].get("body") or "")

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = sansio.Event.from_http(request.headers, body, secret=secret)
        except ValidationFailure:
            return web.Response(status=401)
        except BadRequest:
            return web.Response(status=400)
        await router.dispatch(event)
        return web.Response(status=200)

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gidgethub_bot")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ["GIDGETHUB_WEBHOOK_SECRET"]
    web.run_app(create_bot_app(secret), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
