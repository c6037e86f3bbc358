"""Drives pywinrm (the real PyPI client) against the embedded endpoint for crates/server/tests/pywinrm_interop.rs.

Reads one JSON request on stdin: {"host", "port", "ssl", "auth", "user", "password", "scenario"} and prints one
JSON result. Any unexpected exception escapes (non-zero exit, traceback on stderr), failing the Rust test.
"""

import json
import sys

import winrm
from winrm.exceptions import WSManFaultError

req = json.load(sys.stdin)


def session():
    scheme = "https" if req["ssl"] else "http"
    return winrm.Session(
        f"{scheme}://{req['host']}:{req['port']}/wsman",
        auth=(req["user"], req["password"]),
        transport=req["auth"],
        server_cert_validation="ignore",
        message_encryption="auto",
        operation_timeout_sec=5,
        read_timeout_sec=15,
    )


def fault(e):
    return {"fault": True, "reason": e.reason, "wsman_code": e.wsman_fault_code, "subcode": e.fault_subcode}


def run_cmd():
    # run_cmd and run_ps both open a cmd shell (run_ps runs powershell.exe inside it).
    result = {}
    for name, call in [("run_cmd", lambda s: s.run_cmd("ipconfig", ["/all"])), ("run_ps", lambda s: s.run_ps("1"))]:
        try:
            r = call(session())
            result[name] = {"fault": False, "status_code": r.status_code}
        except WSManFaultError as e:
            result[name] = fault(e)
    return result


SCENARIOS = {
    "cmd": run_cmd,
}
print(json.dumps(SCENARIOS[req["scenario"]]()))
