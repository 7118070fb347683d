"""What a coordinator gives a node when it joins, made here with the `cryptography` package for nodes the
system tests run without a coordinator: a node CA and a coordinator CA (P-256), a certificate for each node
naming it (spiffe://zone/region/R/node/ID), the coordinator's client certificate to call a node's control API
with, and the Ed25519 key bundles are signed with. Independent of Meridian's own certificate and signing code."""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ZONE = "meridian.test"


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


class Authority:
    def __init__(self, title):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(_name(title)).issuer_name(_name(title)).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.pem = _pem(self.certificate)

    def issue(self, uri, hosts=("127.0.0.1",), lifetime=datetime.timedelta(days=1), start=None):
        """A key and its leaf certificate for client and server authentication."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = start or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        names = [x509.UniformResourceIdentifier(uri)]
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = (
            x509.CertificateBuilder().subject_name(_name(uri)).issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self.key, hashes.SHA256()))
        return key, certificate


class PKI:
    def __init__(self):
        self.node_ca = Authority("test node CA")
        self.coordinator_ca = Authority("test coordinator CA")
        self.bundle_key = ed25519.Ed25519PrivateKey.generate()
        raw = self.bundle_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.bundle_public = base64.b64encode(raw).decode()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def write_identity(self, data_dir, region, node, control_port, coordinator_url="https://127.0.0.1:1", bundle_public=None):
        """The files `meridian node --join` leaves in DATA-DIR/identity; the bundle key is this PKI's unless
        `bundle_public` (base64 of a raw Ed25519 public key) is given."""
        directory = os.path.join(data_dir, "identity")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        key, certificate = self.node_ca.issue(f"spiffe://{ZONE}/region/{region}/node/{node}")
        files = {
            "node.pem": _pem(certificate) + "\n" + _key_pem(key),
            "node-ca.pem": self.node_ca.pem,
            "coordinator-ca.pem": self.coordinator_ca.pem,
            "enrollment.json": json.dumps({
                "region": region, "node": node, "zone": ZONE, "control_url": f"https://127.0.0.1:{control_port}",
                "coordinator_url": coordinator_url, "bundle_key": bundle_public or self.bundle_public}),
        }
        for name, text in files.items():
            path = os.path.join(directory, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(text)

    def sign(self, bundle):
        """A bundle as the coordinator signs it: {key_id, payload, signature}."""
        payload = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
        return {"key_id": self.key_id, "payload": base64.b64encode(payload).decode(),
                "signature": base64.b64encode(self.bundle_key.sign(payload)).decode()}

    def client_context(self, directory, issuer=None, uri=None):
        """An SSL context that presents a certificate of `issuer` (the coordinator CA) and trusts the node CA."""
        issuer = issuer or self.coordinator_ca
        key, certificate = issuer.issue(uri or f"spiffe://{ZONE}/coordinator")
        path = os.path.join(directory, f"client-{certificate.serial_number}.pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(_pem(certificate) + _key_pem(key))
        context = ssl.create_default_context(cadata=self.node_ca.pem)
        context.load_cert_chain(path)
        return context


PKI_SHARED = PKI()
