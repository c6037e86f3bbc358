"""psrpcore as a framing peer for pssession-psrp's interop tests.

Reads one JSON request on stdin, writes one JSON answer on stdout. Only psrpcore's own code paths are used:
create_message() builds messages, RunspacePool.data_to_send() fragments and packs them, and
RunspacePool.receive_data() + next_event() reassemble them (with CLIXML processing replaced by returning the
reassembled message, as psrpcore's own benchmarks do).

  {"op": "fragment", "amount": N, "messages": [{"to_server": b, "type": n, "rpid": s, "pid": s|null, "data": b64}]}
      -> {"messages": [b64 of create_message()], "payloads": [{"pid": s|null, "data": b64}]}
  {"op": "defragment", "payloads": [b64]}
      -> {"messages": [{"object_id": n, "type": n, "rpid": s, "pid": s|null, "data": b64}]}
"""

import base64
import json
import sys
import uuid

import psrpcore
from psrpcore._payload import PSRPMessage, PSRPPayload, StreamType, create_message
from psrpcore.types import PSRPMessageType


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fragment(request):
    pool = psrpcore.ClientRunspacePool()
    encoded = []
    for object_id, m in enumerate(request["messages"], 1):
        rpid = uuid.UUID(m["rpid"])
        pid = uuid.UUID(m["pid"]) if m["pid"] else None
        data = base64.b64decode(m["data"])
        raw = create_message(m["to_server"], PSRPMessageType(m["type"]), data, rpid, pid)
        encoded.append(b64(raw))
        pool._send_buffer.append(PSRPMessage(PSRPMessageType(m["type"]), raw, rpid, pid, object_id))
    payloads = []
    while True:
        payload = pool.data_to_send(request["amount"])
        if payload is None:
            break
        pid = str(payload.pipeline_id) if payload.pipeline_id else None
        payloads.append({"pid": pid, "data": b64(payload.data)})
    return {"messages": encoded, "payloads": payloads}


def defragment(request):
    pool = psrpcore.ClientRunspacePool()
    pool._process_message = lambda message: message
    out = []
    for data in request["payloads"]:
        pool.receive_data(PSRPPayload(base64.b64decode(data), StreamType.default, None))
        while True:
            message = pool.next_event()
            if message is None:
                break
            out.append(
                {
                    "object_id": message.object_id,
                    "type": message.message_type.value,
                    "rpid": str(message.runspace_pool_id),
                    "pid": str(message.pipeline_id) if message.pipeline_id else None,
                    "data": b64(message.data),
                }
            )
    return {"messages": out}


def main():
    request = json.load(sys.stdin)
    answer = {"fragment": fragment, "defragment": defragment}[request["op"]](request)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
