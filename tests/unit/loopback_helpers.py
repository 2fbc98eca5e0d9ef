"""Shared by the tests of the real-HTTP protocols (webhooks, SSE/WebSocket, REST polling)."""

from __future__ import annotations

import asyncio

import pushpull_lab as ppl


def run(coro_fn, *args):
    """Run one test body on a fresh loop with a fresh real-time lab; no task may be left behind."""

    async def body():
        lab = ppl.Lab()
        value = await coro_fn(lab, *args)
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, f"tasks left running: {leftover}"
        return value

    return asyncio.run(body())
