#!/usr/bin/env python3
"""A minimal WinRM-style HTTP acceptor on pyspnego 0.12.4 for the pssession-auth client tests: the 401 token
dance (Negotiate/NTLM, one security context per connection) and multipart/encrypted echo of each body.

  spnego_http_server.py USER_FILE     (prints "port N" once listening; runs until stdin closes)
USER_FILE holds "DOMAIN:USER:PASSWORD" lines (pyspnego's NTLM_USER_FILE).
"""
import base64
import os
import re
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spnego

PROTOCOL = b"application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self):
        self.ctx = None
        self.reply(401, [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ctx = getattr(self, "ctx", None)
        authz = self.headers.get("Authorization")
        final = []
        if authz:
            scheme, _, token = authz.partition(" ")
            if ctx is None or ctx.complete:
                ctx = self.ctx = spnego.server(protocol=scheme.lower())
            try:
                out = ctx.step(base64.b64decode(token))
            except spnego.exceptions.SpnegoError:
                return self.refuse()
            final = [("WWW-Authenticate", "%s %s" % (scheme, base64.b64encode(out).decode()))] if out else []
            if not ctx.complete:
                return self.reply(401, final)
        if ctx is None or not ctx.complete:
            return self.refuse()
        if not body:
            return self.reply(200, final)
        parts = [p for p in re.split(rb"--\s*Encrypted Boundary\r\n", body) if p]
        expected = int(parts[0].split(b"Length=")[1].strip())
        payload = re.sub(rb"--\s*Encrypted Boundary--\r\n$", b"", parts[1])
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        (sig_len,) = struct.unpack("<I", payload[:4])
        try:
            plain = ctx.unwrap_winrm(payload[4:4 + sig_len], payload[4 + sig_len:])
        except spnego.exceptions.SpnegoError:
            return self.reply(400)
        if len(plain) != expected:
            return self.reply(400)
        reply = b"<echo>" + plain + b"</echo>"
        w = ctx.wrap_winrm(reply)
        enc = (BOUNDARY + b"\r\n\tContent-Type: " + PROTOCOL + b"\r\n"
               + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(reply)
               + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
               + struct.pack("<I", len(w.header)) + w.header + w.data + BOUNDARY + b"--\r\n")
        ctype = 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % PROTOCOL.decode()
        self.reply(200, final + [("Content-Type", ctype)], enc)


def main():
    os.environ["NTLM_USER_FILE"] = sys.argv[1]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print("port %d" % httpd.server_address[1], flush=True)
    sys.stdin.read()  # the Rust test closes stdin (or exits) to stop us
    httpd.shutdown()


if __name__ == "__main__":
    main()
