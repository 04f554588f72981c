"""A WebSocket server that is not ours: Python's `websockets`, with
permessage-deflate (RFC 7692) on, as the library does by default.

Run by tests/deflate.rs. It prints `port N` once it listens. For each
connection it reads one message (which the library has inflated),
and sends back {"got": <that text>}, which the library deflates.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    text = await ws.recv()
    await ws.send(json.dumps({"got": text}, separators=(",", ":")))
    await ws.wait_closed()


async def main():
    # server_header=None: no `Server:` line, whose version would change
    # the transcript with every release of the library.
    async with serve(
        echo, "127.0.0.1", 0, compression="deflate", server_header=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        # The test closes stdin when it is done: then stop.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
