"""psrpcore's sans-IO ServerRunspacePool as a peer for the Rust client state machines.

One JSON command per stdin line, one JSON answer per stdout line:
  {"op": "create", "data": b64}                      -> {"events": [...], "data": b64}
  {"op": "pipeline", "pipeline_id": str, "data": b64} -> {"commands": [...], "no_input": bool, "data": b64}
  {"op": "disconnect"}                               -> {"state": str}
  {"op": "connect", "data": b64}                     -> {"events": [...], "min": int, "max": int, "data": b64}
"""

import base64
import json
import sys
import uuid

from psrpcore import PSRPPayload, ServerPipeline, ServerRunspacePool, StreamType

server = ServerRunspacePool()


def feed(data):
    server.receive_data(PSRPPayload(base64.b64decode(data), StreamType.default, None))
    events = []
    while True:
        event = server.next_event()
        if event is None:
            return events
        events.append(event)


def drain():
    out = bytearray()
    while True:
        payload = server.data_to_send()
        if payload is None:
            return base64.b64encode(bytes(out)).decode()
        out += payload.data


for line in sys.stdin:
    request = json.loads(line)
    op = request["op"]
    if op == "create":
        events = feed(request["data"])
        answer = {"events": [type(e).__name__ for e in events], "data": drain(), "state": str(server.state)}
    elif op == "pipeline":
        pipeline = ServerPipeline(server, uuid.UUID(request["pipeline_id"]))
        events = feed(request["data"])
        ps = events[-1].pipeline
        commands = [
            {
                "text": c.command_text,
                "is_script": bool(c.is_script),
                "parameters": [[n, str(v)] for n, v in c.parameters],
            }
            for c in ps.commands
        ]
        pipeline.start()
        pipeline.write_output("first")
        pipeline.write_output(42)
        pipeline.write_warning("careful")
        pipeline.write_verbose("chatty")
        pipeline.complete()
        answer = {"commands": commands, "no_input": bool(ps.no_input), "data": drain()}
    elif op == "disconnect":
        server.begin_disconnect()
        server.disconnect()
        server.connect()
        answer = {"state": str(server.state)}
    elif op == "connect":
        events = feed(request["data"])
        answer = {
            "events": [type(e).__name__ for e in events],
            "min": server.min_runspaces,
            "max": server.max_runspaces,
            "data": drain(),
        }
    else:
        raise ValueError(op)
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
