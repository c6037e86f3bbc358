#!/usr/bin/env python3
"""A small RFC 7616 Digest server for the pssession-auth tests (the WinRM service itself has no Digest).

Usage:
  digest_server.py serve [OPTION...]   prints "port N" on stdout, serves until killed
  digest_server.py selftest            checks this server against the Digest client of `requests`

Options:
  algorithms=SHA-256,MD5   challenges offered, in order (default SHA-256,MD5); "-sess" variants allowed
  userhash=1               ask for userhash
  stale-after=N            a nonce is good for N authenticated requests, then "401 stale=true" with a new one
  offer=Negotiate          offer only this (non-Digest) scheme

Account: alice / Passw0rd!, realm "pssession-test". A successful request answers 200 with the body
"user=<name> nc=<nc> algorithm=<alg>".
"""
import hashlib
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REALM = "pssession-test"
USERS = {"alice": "Passw0rd!"}
HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def H(alg, text):
    return hashlib.new(HASHES[alg], text.encode("utf-8")).hexdigest()


class State:
    algorithms = ["SHA-256", "MD5"]
    userhash = False
    stale_after = None
    offer = None
    nonces = {}  # nonce -> [last nc, uses]
    lock = threading.Lock()


def new_nonce():
    nonce = os.urandom(16).hex()
    with State.lock:
        State.nonces[nonce] = [0, 0]
    return nonce


def challenges(stale=False):
    if State.offer:
        return [State.offer]
    nonce = new_nonce()
    out = []
    for alg in State.algorithms:
        c = 'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", opaque="0paque"' % (REALM, alg, nonce)
        if State.userhash:
            c += ", userhash=true"
        if stale:
            c += ", stale=true"
        out.append(c)
    return out


def verify(method, header):
    """Returns (user, nc, alg) or raises ValueError; "stale" when the nonce is used up."""
    if not header.lower().startswith("digest "):
        raise ValueError("not Digest")
    p = urllib.request.parse_keqv_list(urllib.request.parse_http_list(header[7:]))
    alg = p.get("algorithm", "MD5")
    base = alg[:-5] if alg.upper().endswith("-SESS") else alg
    if base not in HASHES or alg not in State.algorithms:
        raise ValueError("algorithm %s not offered" % alg)
    if p.get("realm") != REALM or p.get("opaque") != "0paque" or p.get("qop") != "auth":
        raise ValueError("realm/opaque/qop")
    nonce, nc, cnonce = p["nonce"], p["nc"], p["cnonce"]
    if p.get("userhash") == "true":
        user = next((u for u in USERS if H(base, "%s:%s" % (u, REALM)) == p["username"]), None)
    else:
        user = p.get("username")
        if user is None and "username*" in p:
            value = p["username*"]
            assert value.startswith("UTF-8''")
            user = urllib.request.unquote(value[7:])
    if user not in USERS:
        raise ValueError("unknown user")
    with State.lock:
        if nonce not in State.nonces:
            raise ValueError("unknown nonce")
        last, uses = State.nonces[nonce]
        if int(nc, 16) <= last:
            raise ValueError("replayed nc")
        if State.stale_after is not None and uses >= State.stale_after:
            return "stale"
    ha1 = H(base, "%s:%s:%s" % (user, REALM, USERS[user]))
    if alg.upper().endswith("-SESS"):
        ha1 = H(base, "%s:%s:%s" % (ha1, nonce, cnonce))
    ha2 = H(base, "%s:%s" % (method, p["uri"]))
    expected = H(base, "%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
    if expected != p["response"]:
        raise ValueError("wrong response")
    with State.lock:
        State.nonces[nonce] = [int(nc, 16), State.nonces[nonce][1] + 1]
    return user, nc, alg


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("[digest] %s\n" % (fmt % args))

    def reply(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", 0))
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        if not auth:
            return self.reply(401, [("WWW-Authenticate", c) for c in challenges()])
        try:
            result = verify(self.command, auth)
        except (ValueError, KeyError) as e:
            self.log_message("refused: %s", e)
            return self.reply(401, [("WWW-Authenticate", c) for c in challenges()])
        if result == "stale":
            return self.reply(401, [("WWW-Authenticate", c) for c in challenges(stale=True)])
        user, nc, alg = result
        self.reply(200, [("Content-Type", "text/plain")], ("user=%s nc=%s algorithm=%s" % (user, nc, alg)).encode())

    do_GET = handle_any
    do_POST = handle_any


def serve(port=0):
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    return httpd


def selftest():
    import requests
    from requests.auth import HTTPDigestAuth

    httpd = serve()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/wsman" % httpd.server_address[1]
    for algs in (["MD5"], ["SHA-256"], ["MD5-sess"]):
        State.algorithms = algs
        r = requests.post(url, data=b"x", auth=HTTPDigestAuth("alice", "Passw0rd!"))
        assert r.status_code == 200 and r.text.startswith("user=alice"), (algs, r.status_code, r.text)
        r = requests.post(url, data=b"x", auth=HTTPDigestAuth("alice", "wrong"))
        assert r.status_code == 401, (algs, r.status_code)
    httpd.shutdown()
    print("selftest ok")


def main():
    mode = sys.argv[1]
    if mode == "selftest":
        return selftest()
    for arg in sys.argv[2:]:
        key, value = arg.split("=", 1)
        if key == "algorithms":
            State.algorithms = value.split(",")
        elif key == "userhash":
            State.userhash = value == "1"
        elif key == "stale-after":
            State.stale_after = int(value)
        elif key == "offer":
            State.offer = value
    httpd = serve()
    print("port %d" % httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
