"""A WebSocket client that is not tungstenite: Python's `websockets`.

Run by tests/independent_client.rs with the server's ws:// URL. It
prints one JSON object with what it saw; the Rust test checks it.
The library checks the handshake (Sec-WebSocket-Accept), masks its
frames and validates the server's frames by itself.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main(base):
    seen = {}
    async with connect(f"{base}/ws", subprotocols=["chat.v1"]) as ws:
        seen["subprotocol"] = ws.subprotocol
        await ws.send(json.dumps({"user": "py", "text": "hello from python"}))
        seen["echo"] = json.loads(await ws.recv())
        await ws.send("{not json")
        seen["error"] = json.loads(await ws.recv())
        # A ping with a payload; the library waits for the matching pong.
        pong = await ws.ping(b"py-ping")
        await asyncio.wait_for(pong, 10)
        seen["pong"] = True
    seen["close_code"] = ws.close_code
    # A reconnect with the cursor replays what came after it.
    async with connect(f"{base}/ws?after=0") as ws:
        seen["replay"] = json.loads(await ws.recv())
        # Over --max-message: the server closes with 1009.
        await ws.send("x" * 20000)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            seen["too_big"] = closed.rcvd.code if closed.rcvd else None
    print(json.dumps(seen))


asyncio.run(main(sys.argv[1]))
