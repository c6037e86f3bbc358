#!/usr/bin/env python3
"""Real pypsrp 0.9.1 WinRM HTTP transport (authentication + message encryption, no WS-Man parsing) against a
server on localhost, for the pssession-auth acceptor tests.

  pypsrp_client.py PORT AUTH USER PASSWORD
Sends three envelopes (one of 40 000 bytes) with encryption="always" and prints one line per reply:
  "reply <base64 of the decrypted body>"
Exits non-zero (with the pypsrp exception on stderr) when authentication fails.
"""
import base64
import sys

from pypsrp.wsman import _TransportHTTP


def main():
    port, auth, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    transport = _TransportHTTP("localhost", port=port, username=user, password=password, ssl=False, auth=auth,
                               encryption="always", negotiate_service="HTTP")
    for i in range(3):
        body = b"<s:Envelope>" + (b"x" * 40000 if i == 1 else b"message %d" % i) + b"</s:Envelope>"
        reply = transport.send(body)
        print("reply " + base64.b64encode(reply).decode(), flush=True)


if __name__ == "__main__":
    main()
