"""pypsrp's side of `pssession-load run` (cargo xtask bench --load): the scenarios of loadtest/src/scenarios.rs with
pypsrp's RunspacePool and PowerShell, against the same endpoint: HTTP with NTLM and message encryption, or HTTPS
with NTLM when the URI says https.

Reads one JSON request on stdin: {"uri", "user", "password", "scenario", "iterations", "count", "size",
"settle_ms", "concurrency"} and prints {"client": "pypsrp", "scenario", "seconds": [...], "cpu_seconds": [...],
"payload_bytes", "objects"}: wall and CPU time (time.process_time) of each timed section. open_run_close with a
"concurrency" above 1 runs on that many threads and adds "wall_seconds" of the whole run. Every object received is
checked (sequence number and payload length); a wrong or short answer raises, failing the run.
"""

import json
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

req = json.load(sys.stdin)
extra = {}
uri = urllib.parse.urlsplit(req["uri"])


def wsman():
    return WSMan(
        uri.hostname,
        port=uri.port,
        path=uri.path.lstrip("/"),
        username=req["user"],
        password=req["password"],
        ssl=uri.scheme == "https",
        auth="ntlm",
        # Sealed over HTTP; over HTTPS TLS protects the bodies (the endpoint's certificate is self-signed).
        encryption="always" if uri.scheme == "http" else "auto",
        cert_validation=False,
        operation_timeout=20,
        read_timeout=60,
    )


def test_data_script():
    return "Get-TestData -Count %d -Size %d" % (req["count"], req["size"])


def check_test_data(output):
    """(objects, payload bytes) of a Get-TestData run, checked object by object."""
    count, size = req["count"], req["size"]
    payload = 0
    for expected, obj in enumerate(output, start=1):
        sequence = obj.extended_properties.get("Sequence")
        text = obj.extended_properties.get("Payload")
        if sequence != expected or text is None or len(text) != size:
            raise RuntimeError("object %d: got Sequence %r, Payload length %r" % (expected, sequence, text and len(text)))
        payload += len(text)
    if len(output) != count:
        raise RuntimeError("received %d objects, expected %d" % (len(output), count))
    return len(output), payload


def one_open_run_close():
    started = time.perf_counter()
    pool = RunspacePool(wsman())
    pool.open()
    ps = PowerShell(pool)
    ps.add_script("Write-Output hello")
    output = ps.invoke()
    pool.close()
    seconds = time.perf_counter() - started
    if [str(o) for o in output] != ["hello"] or ps.had_errors:
        raise RuntimeError("Write-Output hello gave %r" % (output,))
    return seconds


def open_run_close():
    concurrency = req.get("concurrency", 1)
    if concurrency > 1:
        # K threads of one process (pypsrp is synchronous); the CPU of the whole run is shared out evenly.
        started, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            seconds = list(pool.map(lambda _: one_open_run_close(), range(req["iterations"])))
        extra["concurrency"] = concurrency
        extra["wall_seconds"] = time.perf_counter() - started
        cpu_each = (time.process_time() - cpu) / len(seconds)
        return seconds, [cpu_each] * len(seconds), 1, 5
    seconds, cpu_seconds = [], []
    for _ in range(req["iterations"]):
        cpu = time.process_time()
        seconds.append(one_open_run_close())
        cpu_seconds.append(time.process_time() - cpu)
    return seconds, cpu_seconds, 1, 5


def big_output():
    seconds, cpu_seconds = [], []
    pool = RunspacePool(wsman())
    pool.open()
    checked = (0, 0)
    for _ in range(req["iterations"]):
        started, cpu = time.perf_counter(), time.process_time()
        ps = PowerShell(pool)
        ps.add_script(test_data_script())
        output = ps.invoke()
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
        if ps.had_errors:
            raise RuntimeError("errors: %r" % (ps.streams.error,))
        checked = check_test_data(output)
    pool.close()
    return seconds, cpu_seconds, checked[0], checked[1]


def disconnected():
    seconds, cpu_seconds = [], []
    checked = (0, 0)
    for iteration in range(req["iterations"]):
        name = "PyDisconnected%d" % iteration
        office = RunspacePool(wsman())
        # pypsrp leaves the shell unnamed unless told (PowerShell lists only named sessions).
        office.shell.name = name
        office.open()
        wanted = str(office.id).upper()
        ps = PowerShell(office)
        ps.add_script(test_data_script())
        ps.begin_invoke()
        office.disconnect()
        time.sleep(req["settle_ms"] / 1000.0)

        started, cpu = time.perf_counter(), time.process_time()
        # pypsrp's Get-PSSession lists every pool (it reads no names): pick ours by InstanceId.
        pools = [p for p in RunspacePool.get_runspace_pools(wsman()) if str(p.id).upper() == wanted]
        if len(pools) != 1:
            raise RuntimeError("Get-PSSession found %d sessions with the id of %s" % (len(pools), name))
        pool = pools[0]
        pool.connect()
        output = []
        for shell in pool.create_disconnected_power_shells():
            output.extend(shell.connect())
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
        checked = check_test_data(output)
        pool.close()
    return seconds, cpu_seconds, checked[0], checked[1]


SCENARIOS = {"open_run_close": open_run_close, "big_output": big_output, "disconnected": disconnected}
seconds, cpu_seconds, objects, payload = SCENARIOS[req["scenario"]]()
answer = {
    "client": "pypsrp",
    "scenario": req["scenario"],
    "seconds": seconds,
    "cpu_seconds": cpu_seconds,
    "objects": objects,
    "payload_bytes": payload,
}
answer.update(extra)
print(json.dumps(answer))
