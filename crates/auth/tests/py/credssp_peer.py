#!/usr/bin/env python3
"""pyspnego CredSSP peer for the pssession-auth interop tests, driven over a line protocol on stdin/stdout.

Usage:
  credssp_peer.py acceptor USER_FILE [OPTION...]
  credssp_peer.py initiator USER PASSWORD [OPTION...]
  credssp_peer.py gencert            prints "CERT_PEM_B64 KEY_PEM_B64" (an RSA certificate as pyspnego makes them)

USER_FILE holds lines "DOMAIN:USER:PASSWORD" (pyspnego's NTLM_USER_FILE) for the inner NTLM acceptor.
Options:
  version=N            the CredSSP protocol version this peer speaks (pyspnego's default is 6)
  tls=1.2              limit the TLS session to TLS 1.2
  tamper=server-proof  (acceptor) corrupt the pubKeyAuth proof the acceptor returns
  tamper=key           (acceptor) expect a different public key than the TLS certificate's (a MITM'd session)
  delegate=DOMAIN:USER:PASSWORD  (initiator) delegate these credentials instead of the authenticating ones

Requests (one per line, base64 fields, "-" = empty/none):
  step TOKEN          -> "ok TOKEN COMPLETE(0|1)" | "error MESSAGE"
  wrap DATA           -> "ok HEADER DATA"        (wrap_winrm)
  unwrap HEADER DATA  -> "ok DATA" | "error MESSAGE"
  credentials         -> "ok DOMAIN USER PASSWORD" (acceptor: what was delegated, base64 UTF-8)
  info                -> "ok PROTOCOL_VERSION TLS_VERSION"
"""
import base64
import os
import ssl
import sys


def b64(data):
    return base64.b64encode(data).decode() if data else "-"


def unb64(text):
    return b"" if text == "-" else base64.b64decode(text)


def main():
    role = sys.argv[1]
    if role == "gencert":
        import spnego.tls
        cert_pem, key_pem, _ = spnego.tls.generate_tls_certificate()
        print(base64.b64encode(cert_pem).decode(), base64.b64encode(key_pem).decode())
        return
    if role == "acceptor":
        os.environ["NTLM_USER_FILE"] = sys.argv[2]
        rest = sys.argv[3:]
    else:
        rest = sys.argv[4:]
    options = dict(arg.split("=", 1) for arg in rest)

    import spnego
    import spnego._credssp as credssp
    import spnego.tls

    if "version" in options:
        credssp._CREDSSP_VERSION = int(options["version"])

    tamper = options.get("tamper")
    if tamper == "server-proof":
        original = credssp._get_pub_key_auth

        def corrupted(pub_key, usage, nonce=None):
            value = original(pub_key, usage, nonce=nonce)
            if usage == "accept":
                value = bytes([value[0] ^ 0x01]) + value[1:]
            return value

        credssp._get_pub_key_auth = corrupted

    kwargs = {}
    usage = "accept" if role == "acceptor" else "initiate"
    if options.get("tls") == "1.2" or tamper == "key":
        tls_ctx = credssp._create_tls_context(usage)
        if options.get("tls") == "1.2":
            tls_ctx.context.maximum_version = ssl.TLSVersion.TLSv1_2
        if tamper == "key":
            # The acceptor believes its TLS key is another one: what a relaying man in the middle looks like.
            _, _, other_key = spnego.tls.generate_tls_certificate()
            tls_ctx.public_key = other_key
        kwargs["credssp_tls_context"] = tls_ctx

    if role == "acceptor":
        ctx = spnego.server(hostname="winrm.example.test", service="HTTP", protocol="credssp", **kwargs)
    else:
        ctx = spnego.client(sys.argv[2], sys.argv[3], hostname="winrm.example.test", service="HTTP",
                            protocol="credssp", **kwargs)
        if "delegate" in options:
            from spnego._credssp_structures import TSCredentials, TSPasswordCreds
            domain, user, password = options["delegate"].split(":", 2)
            ctx._ts_credential = TSCredentials(credentials=TSPasswordCreds(domain, user, password))

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
            elif cmd == "credentials":
                creds = ctx.get_extra_info("client_credential")
                if creds is None:
                    reply = "error no-credentials"
                else:
                    reply = "ok %s %s %s" % tuple(
                        base64.b64encode(v.encode()).decode() or "-"
                        for v in (creds.domain_name, creds.username, creds.password))
            elif cmd == "info":
                tls_version = ctx.get_extra_info("ssl_object").version()
                reply = "ok %s %s" % (ctx.get_extra_info("protocol_version"), tls_version)
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
