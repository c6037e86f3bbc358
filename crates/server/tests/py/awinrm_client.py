"""Drives awinrm (asyncio WinRM over asyauth, from PyPI) against the embedded endpoint for
crates/server/tests/awinrm_interop.rs.

Reads one JSON request on stdin: {"host", "port", "user", "password"} and prints one JSON result. asyauth's NTLM
sends an AUTHENTICATE without a MIC (issue 21, item 2); the endpoint must accept it, seal the exchange, and answer
the cmd-shell Create that awinrm's run_cmd sends with a fault that says why. Any other exception escapes
(non-zero exit, traceback on stderr), failing the Rust test; with "wrong_password" set, any failure is
reported (awinrm itself trips over the 401 that refuses a logon, as it would against Windows).
"""

import asyncio
import json
import sys

from awinrm import Session
from awinrm.exceptions import WinRMError

req = json.load(sys.stdin)


async def main():
    url = f"http+ntlm-password://{req['user']}:{req['password']}@{req['host']}:{req['port']}"
    async with Session(url, authtype="spnego") as session:
        try:
            await session.run_cmd("ipconfig")
            return {"fault": False}
        except WinRMError as e:
            return {"fault": True, "message": str(e)}
        except Exception as e:  # noqa: BLE001 - only for the refused logon, see the module docstring
            if not req.get("wrong_password"):
                raise
            return {"fault": False, "refused": type(e).__name__, "message": str(e)}


print(json.dumps(asyncio.run(main())))
