#!/usr/bin/env python3
"""Generates self-signed certificates with several signature algorithms and reports pypsrp's
tls-server-end-point hash for each (pypsrp.negotiate.HTTPNegotiateAuth._get_certificate_hash).

SHA-1 signatures are refused by current OpenSSL builds; the crate unit tests cover that mapping.

Input (stdin): JSON {} (unused). Output: JSON [{"name", "der_hex", "hash_hex"}].
"""
import datetime
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pypsrp.negotiate import HTTPNegotiateAuth


def make(key, algorithm, **kwargs):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "winrm.example.test")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    return builder.sign(key, algorithm, **kwargs).public_bytes(Encoding.DER)


def main():
    json.load(sys.stdin)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    certs = {
        "rsa-sha256": make(rsa_key, hashes.SHA256()),
        "rsa-sha384": make(rsa_key, hashes.SHA384()),
        "rsa-sha512": make(rsa_key, hashes.SHA512()),
        "rsa-pss-sha384": make(rsa_key, hashes.SHA384(), rsa_padding=pss),
        "ecdsa-sha256": make(ec_key, hashes.SHA256()),
        "ecdsa-sha384": make(ec_key, hashes.SHA384()),
        "ecdsa-sha512": make(ec_key, hashes.SHA512()),
        "ed25519": make(ed25519.Ed25519PrivateKey.generate(), None),
    }
    out = [
        {"name": n, "der_hex": der.hex(), "hash_hex": HTTPNegotiateAuth._get_certificate_hash(der).hex()}
        for n, der in certs.items()
    ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
