"""pypsrp (the real PyPI client) on the other side of `pssession` for crates/cli/tests/e2e_pypsrp.rs.

Reads one JSON request on stdin: {"host", "port", "user", "password", "scenario", ...} and prints one JSON result.
Any exception escapes (non-zero exit, traceback on stderr), failing the Rust test.

Scenarios:
* "start_and_disconnect": open a pool named `name` (unnamed without it), start `script` and disconnect; answer the pool id.
* "connect_and_receive": find the pool `instance_id` with RunspacePool.get_runspace_pools, connect, re-create its
  disconnected pipelines, connect them and answer their output; then close the pool.
"""

import json
import sys

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

req = json.load(sys.stdin)


def wsman():
    return WSMan(
        req["host"],
        port=req["port"],
        username=req["user"],
        password=req["password"],
        ssl=False,
        auth="ntlm",
        encryption="always",
        operation_timeout=5,
        read_timeout=15,
    )


def start_and_disconnect():
    pool = RunspacePool(wsman())
    # pypsrp leaves the shell unnamed unless told (PowerShell lists only named sessions; pssession lists both).
    if req.get("name") is not None:
        pool.shell.name = req["name"]
    pool.open()
    ps = PowerShell(pool)
    ps.add_script(req["script"])
    ps.begin_invoke()
    pool.disconnect()
    return {"instance_id": str(pool.id).upper(), "state": str(pool.state)}


def connect_and_receive():
    wanted = req["instance_id"].upper()
    pools = RunspacePool.get_runspace_pools(wsman())
    found = [p for p in pools if str(p.id).upper() == wanted]
    result = {"listed": len(pools), "found": len(found)}
    if not found:
        return result
    pool = found[0]
    pool.connect()
    result["state_after_connect"] = str(pool.state)
    shells = pool.create_disconnected_power_shells()
    result["pipelines"] = len(shells)
    output = []
    for shell in shells:
        output.extend(str(o) for o in shell.connect())
    result["output"] = output
    after = PowerShell(pool)
    after.add_script("'pypsrp was here'")
    result["after"] = [str(o) for o in after.invoke()]
    pool.close()
    return result


SCENARIOS = {"start_and_disconnect": start_and_disconnect, "connect_and_receive": connect_and_receive}
print(json.dumps(SCENARIOS[req["scenario"]]()))
