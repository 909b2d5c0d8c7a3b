"""Publishes one bundle file to NATS JetStream with nats-py, the way a producer that
did not use stella-scheduler would (tests/nats.rs, docs/transport.md).

usage: publish_nats.py URL STREAM SUBJECT_PREFIX FEED FILE

Creates the stream on SUBJECT_PREFIX.> when absent, publishes FILE's bytes to
SUBJECT_PREFIX.FEED with Nats-Msg-Id = sha256:<hex of the bytes>, and prints the
stream's ack as one JSON line.
"""

import asyncio
import hashlib
import json
import sys

import nats
from nats.js.errors import NotFoundError


async def main(url, stream, prefix, feed, path):
    with open(path, "rb") as f:
        data = f.read()
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
        msg_id = "sha256:" + hashlib.sha256(data).hexdigest()
        ack = await js.publish(f"{prefix}.{feed}", data, headers={"Nats-Msg-Id": msg_id})
        print(json.dumps({"stream": ack.stream, "seq": ack.seq, "msgId": msg_id}))
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
