#!/usr/bin/env python3
"""pyspnego peer for the pssession-auth interop tests, driven over a line protocol on stdin/stdout.

Usage:
  spnego_peer.py acceptor PROTOCOL USER_FILE [CBT_HEX]
  spnego_peer.py initiator PROTOCOL USER PASSWORD [CBT_HEX]

PROTOCOL is "ntlm" or "negotiate". USER_FILE holds lines "DOMAIN:USER:PASSWORD" (pyspnego's NTLM_USER_FILE).
CBT_HEX is the channel bindings application data in hex ("-" for none).

Requests (one per line, base64 fields, "-" = empty/none):
  step TOKEN          -> "ok TOKEN COMPLETE(0|1)" | "error MESSAGE"
  wrap DATA           -> "ok HEADER DATA"        (wrap_winrm)
  unwrap HEADER DATA  -> "ok DATA" | "error MESSAGE"
  principal           -> "ok NAME"
"""
import base64
import os
import sys


def b64(data):
    return base64.b64encode(data).decode() if data else "-"


def unb64(text):
    return b"" if text == "-" else base64.b64decode(text)


def main():
    role, protocol = sys.argv[1], sys.argv[2]
    if role == "acceptor":
        os.environ["NTLM_USER_FILE"] = sys.argv[3]
        cbt_arg = sys.argv[4] if len(sys.argv) > 4 else "-"
    else:
        cbt_arg = sys.argv[5] if len(sys.argv) > 5 else "-"

    import spnego
    from spnego.channel_bindings import GssChannelBindings

    cbt = None if cbt_arg == "-" else GssChannelBindings(application_data=bytes.fromhex(cbt_arg))
    if role == "acceptor":
        ctx = spnego.server(protocol=protocol, channel_bindings=cbt)
    else:
        ctx = spnego.client(sys.argv[3], sys.argv[4], hostname="winrm.example.test", service="http",
                            protocol=protocol, channel_bindings=cbt)

    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        try:
            if cmd == "step":
                token = unb64(parts[1]) if len(parts) > 1 else b""
                out = ctx.step(token or None)
                reply = "ok %s %d" % (b64(out), 1 if ctx.complete else 0)
            elif cmd == "wrap":
                w = ctx.wrap_winrm(unb64(parts[1]))
                reply = "ok %s %s" % (b64(w.header), b64(w.data))
            elif cmd == "unwrap":
                reply = "ok %s" % b64(ctx.unwrap_winrm(unb64(parts[1]), unb64(parts[2])))
            elif cmd == "principal":
                reply = "ok %s" % ctx.client_principal
            elif cmd == "quit":
                return
            else:
                reply = "error unknown-command"
        except Exception as e:  # report any pyspnego failure to the Rust side
            reply = "error %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
