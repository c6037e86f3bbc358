"""pypsrp (the real PyPI client) with auth="kerberos" against the embedded endpoint, for crates/connect/tests/kerberos.rs.

Reads one JSON request on stdin: {"host", "port", "username", "password", "service"} and prints one JSON result
{"output": [...]}. KRB5_CONFIG (and KRB5CCNAME when "password" is null) come from the environment the test sets.
Needs python-gssapi (pyspnego's Kerberos provider); any exception escapes (non-zero exit), failing the Rust test.
"""

import json
import sys

import gssapi  # noqa: F401  -- pyspnego's Kerberos provider needs both; a missing one fails here, loudly
import krb5  # noqa: F401
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

req = json.load(sys.stdin)
wsman = WSMan(
    req["host"],
    port=req["port"],
    username=req["username"],
    password=req["password"],
    ssl=False,
    auth="kerberos",
    negotiate_service=req["service"],
    encryption="always",
    operation_timeout=5,
    read_timeout=15,
)
with RunspacePool(wsman) as pool:
    ps = PowerShell(pool)
    ps.add_script("Write-Output hi")
    output = [str(v) for v in ps.invoke()]
    print(json.dumps({"output": output, "had_errors": ps.had_errors}))
