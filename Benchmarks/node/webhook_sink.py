"""A fast webhook sink: asyncio, HTTP/1.1 keep-alive, answers every POST with 200 and counts them; `GET /count`
returns the count. The ingest benchmark uses it (http.server would be the bottleneck, not the node); with
`--print` it shows each body, as a demo receiver.

Usage: webhook_sink.py PORT [--print]"""

import asyncio
import sys

count = 0
PRINT = "--print" in sys.argv


async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /count"):
                body = str(count).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                count += 1
                if PRINT:
                    print(head.split(b"\r\n")[0].decode(), body.decode(errors="replace"), sep="\n", flush=True)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
