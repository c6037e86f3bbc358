"""Drives pypsrp (the real PyPI client) against the embedded endpoint for crates/server/tests/pypsrp_interop.rs.

Reads one JSON request on stdin: {"host", "port", "ssl", "auth", "users": {name: password}, "scenario"} (and
"gate_port" for "disconnect": a loopback port the test answers one byte on when the server-side wait is over) and
prints one JSON result. Any exception escapes (non-zero exit, traceback on stderr), failing the Rust test.
"""

import json
import socket
import sys

from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

req = json.load(sys.stdin)


def connection(user):
    """The connection settings of `user`, as pypsrp's WSMan and Client both take them."""
    return {
        "port": req["port"],
        "username": user,
        "password": req["users"][user],
        "ssl": req["ssl"],
        "auth": req["auth"],
        "cert_validation": False,
        "encryption": "auto",
        "operation_timeout": 5,
        "read_timeout": 15,
    }


def wsman(user):
    return WSMan(req["host"], **connection(user))


def streams(ps):
    return {
        "error": [str(e) for e in ps.streams.error],
        "warning": [str(w) for w in ps.streams.warning],
        "verbose": [str(v) for v in ps.streams.verbose],
        "debug": [str(d) for d in ps.streams.debug],
        "information": [str(i.message_data) for i in ps.streams.information],
        "progress": [p.activity for p in ps.streams.progress],
    }


def server_state(user, shell_id):
    """The rsp:State the server reports for a shell, from an Enumerate on a fresh connection."""
    import xml.etree.ElementTree as ET

    from pypsrp.wsman import NAMESPACES

    enum_msg = ET.Element("{%s}Enumerate" % NAMESPACES["wsen"])
    ET.SubElement(enum_msg, "{%s}OptimizeEnumeration" % NAMESPACES["wsman"])
    response = wsman(user).enumerate("http://schemas.microsoft.com/wbem/wsman/1/windows/shell", enum_msg)
    for shell in response.findall("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES):
        if shell.find("rsp:ShellId", NAMESPACES).text.upper() == shell_id:
            return shell.find("rsp:State", NAMESPACES).text
    return None


def text(values):
    return [str(v) for v in values]


def run_streams():
    with RunspacePool(wsman("alice")) as pool:
        ps = PowerShell(pool)
        ps.add_script(
            "$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; "
            "1..3; Write-Error 'bad'; Write-Warning 'careful'; Write-Verbose 'chatty'; Write-Debug 'details'; "
            "Write-Information 'fyi'; Write-Progress -Activity 'Working' -PercentComplete 50; 'done'"
        )
        output = text(ps.invoke())
        result = {"output": output, "had_errors": ps.had_errors, "streams": streams(ps)}
        piped = PowerShell(pool)
        piped.add_script("$input | ForEach-Object { $_ * 10 }")
        result["input"] = text(piped.invoke(input=[1, 2, 3]))
        unknown = PowerShell(pool)
        unknown.add_cmdlet("Get-Nothing")
        unknown.invoke()
        result["unknown"] = {"had_errors": unknown.had_errors, "error": text(unknown.streams.error)}
        slow = PowerShell(pool)
        slow.add_script("Start-Sleep -Seconds 30; 'never'")
        # begin_invoke returns once the server has created the pipeline: it is running when the stop arrives.
        slow.begin_invoke()
        slow.stop()
        result["stopped"] = str(slow.state)
        return result


def run_disconnect():
    mode = req.get("buffer_mode", "Block")
    pool = RunspacePool(wsman("alice"))
    pool.open()
    ps = PowerShell(pool)
    ps.add_script("1..5 | ForEach-Object { Start-Sleep -Milliseconds 200; \"item $_\" }")
    ps.begin_invoke()
    pool.disconnect()
    pool_id = str(pool.id).upper()
    # The pipeline keeps running while nobody is connected: the test opens the gate once it has run to its end.
    with socket.create_connection(("127.0.0.1", req["gate_port"]), timeout=60) as gate:
        if gate.recv(1) != b"1":
            raise RuntimeError("the gate closed before the pipeline finished")

    result = {}
    # The owner sees it from a brand-new connection; another user does not.
    others = RunspacePool.get_runspace_pools(wsman("bob"))
    result["bob_sees"] = [str(p.id).upper() for p in others]
    found = [p for p in RunspacePool.get_runspace_pools(wsman("alice")) if str(p.id).upper() == pool_id]
    result["found"] = len(found)
    reattached = found[0]
    reattached.connect()
    result["state_after_connect"] = str(reattached.state)
    shells = reattached.create_disconnected_power_shells()
    result["pipelines"] = len(shells)
    output = []
    for shell in shells:
        output.extend(text(shell.connect()))
    result["output"] = output
    # Same-client reconnect after another disconnect.
    reattached.disconnect()
    result["state_after_disconnect"] = str(reattached.state)
    result["server_state_after_disconnect"] = server_state("alice", pool_id)
    reattached.connect()
    again = PowerShell(reattached)
    again.add_script("'still here'")
    result["after_reconnect"] = text(again.invoke())
    reattached.close()
    return result


def run_busy():
    pool = RunspacePool(wsman("alice"))
    pool.open()
    pool_id = str(pool.id).upper()
    found = [p for p in RunspacePool.get_runspace_pools(wsman("alice")) if str(p.id).upper() == pool_id]
    result = {"found": len(found)}
    try:
        found[0].connect()
        result["connect"] = "succeeded"
    except WSManFaultError as e:
        result["connect"] = "fault"
        result["code"] = e.code
    pool.close()
    return result


def run_secure_string():
    from pypsrp.complex_objects import ObjectMeta

    with RunspacePool(wsman("alice")) as pool:
        pool.exchange_keys()
        secret = pool.serialize("pa55 w0rd \u00fc\U00010437", ObjectMeta("SS"))
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", secret)
        ps.add_statement().add_script("'done'")
        return {"output": text(ps.invoke()), "had_errors": ps.had_errors}


def run_reconnect():
    conn = wsman("alice")
    with RunspacePool(conn) as pool:
        before = PowerShell(pool)
        before.add_script("'before'")
        result = {"before": text(before.invoke())}
        # The keep-alive connection goes away (as when the endpoint closes it after its idle timeout); pypsrp
        # opens a new one and goes on sealing with the security context it has, without authenticating again.
        conn.transport.session.close()
        after = PowerShell(pool)
        after.add_script("'after'")
        result["after"] = text(after.invoke())
    return result


def run_execute_ps():
    # pypsrp's high-level Client: execute_ps wraps the script in Invoke-Expression | Out-String -Stream.
    from pypsrp.client import Client

    client = Client(req["host"], **connection("alice"))
    output, streams, had_errors = client.execute_ps("$n = 6 * 7; \"answer $n\"; Write-Output 'second'")
    return {"output": output, "had_errors": had_errors, "errors": [str(e) for e in streams.error]}


SCENARIOS = {
    "execute_ps": run_execute_ps,
    "streams": run_streams,
    "disconnect": run_disconnect,
    "busy": run_busy,
    "secure_string": run_secure_string,
    "reconnect": run_reconnect,
}
print(json.dumps(SCENARIOS[req["scenario"]]()))
