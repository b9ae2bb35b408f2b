"""A local stand-in for the Anthropic Messages API, played from a script of turns.

The real `claude` CLI talks to it through `ANTHROPIC_BASE_URL`. Requests that carry tools are the
agent's own turns: each gets the next scripted turn, streamed as server-sent events exactly as the
API streams them (message_start, content blocks with text and input_json deltas, message_delta,
message_stop), or a non-streaming message when the CLI asks for one (it does on retries). Requests
without tools are the CLI's side calls (the small model judging a Bash command's prefix, and the
like): they get the text `none`, the answer that asks for nothing special.

A turn is a JSON object:
    {"content": [{"type": "text", "text": "..."},
                 {"type": "tool_use", "name": "Bash", "input": {"command": "..."}}]}
    {"error": 500}          the API fails this request (and, with "sticky": true, every later one)
    {"hang": true}          the request is never answered; the file `hanging` appears next to the
                            script (a deadline test stops the Pod then)
When the script runs out, the agent is told "Done." and ends its turn.

Every request is appended to `requests.jsonl` next to the script, one JSON object a line, so a test
can read what the CLI sent back (tool results, refusals).

Run: python messages_api.py SCRIPT.json PORT
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

_ids = itertools.count(1)


def _usage(output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": 120,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _blocks(turn: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = []
    for block in turn.get("content") or [{"type": "text", "text": "Done."}]:
        if block["type"] == "tool_use":
            blocks.append({**block, "id": block.get("id") or f"toolu_fake{next(_ids):06d}"})
        else:
            blocks.append(block)
    return blocks


def _message(model: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": f"msg_fake{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(40),
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(request: web.Request, message: dict[str, Any]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    start = {**message, "content": [], "stop_reason": None, "usage": _usage(1)}
    await response.write(_event("message_start", {"type": "message_start", "message": start}))
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            empty = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            empty = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        await response.write(
            _event(
                "content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}
            )
        )
        await response.write(
            _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        )
        await response.write(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    await response.write(
        _event("message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 40}})
    )
    await response.write(_event("message_stop", {"type": "message_stop"}))
    await response.write_eof()
    return response


class Script:
    def __init__(self, path: Path) -> None:
        self.turns: list[dict[str, Any]] = json.loads(path.read_text())
        self.next = 0
        self.failing: dict[str, Any] | None = None
        self.log = path.with_name("requests.jsonl")

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        with self.log.open("a") as log:
            log.write(json.dumps({"path": request.path_qs, "body": body}) + "\n")
        model = body.get("model", "claude-sonnet-4-20250514")
        if not body.get("tools"):
            blocks = [{"type": "text", "text": "none"}]
        else:
            turn = self.failing or (self.turns[self.next] if self.next < len(self.turns) else {})
            self.next += 1
            if turn.get("hang"):
                self.log.with_name("hanging").touch()  # the harness stops the Pod now
                await asyncio.Event().wait()  # until the client goes away
            if "error" in turn:
                if turn.get("sticky"):
                    self.failing = turn
                status = int(turn["error"])
                kind = "overloaded_error" if status == 529 else "api_error"
                error = {"type": "error", "error": {"type": kind, "message": "scripted failure"}}
                return web.json_response(error, status=status)
            blocks = _blocks(turn)
        message = _message(model, blocks)
        if body.get("stream"):
            return await _stream(request, message)
        return web.json_response(message)


def main() -> None:
    script = Script(Path(sys.argv[1]))
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/messages", script.messages)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)


if __name__ == "__main__":
    main()
