"""A throwaway OpenID Connect identity provider for the interop suite.

It serves discovery and a JWKS over HTTPS on 127.0.0.1 with a fresh RSA key and a self-signed
certificate, and mints ID tokens, all with PyJWT and cryptography, so that Rampart's
AssumeRoleWithOIDC is checked against code that shares nothing with it.

    idp = OidcIdp()
    # CreateOIDCProvider(IssuerUrl=idp.issuer_url, Fingerprints=idp.fingerprint, ClientIds=...)
    token = idp.mint("system:serviceaccount:ns:sa", "sts.aliyuncs.com")
    idp.close()

Needs: PyJWT[crypto] (>= 2.8) and cryptography (>= 42).
"""

import datetime
import http.server
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import os

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


class OidcIdp:
    """An HTTPS OIDC issuer on an ephemeral port of 127.0.0.1, served from a background thread."""

    def __init__(self, kid="test-key-1"):
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tls_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _self_signed(tls_key)
        der = cert.public_bytes(serialization.Encoding.DER)
        fp = hashes.Hash(hashes.SHA1())
        fp.update(der)
        #: SHA-1 hex (lower case) of the HTTPS certificate, to register on the OIDC provider.
        self.fingerprint = fp.finalize().hex()
        #: Requests served, by path: lets a test see whether Rampart cached the keys.
        self.requests = {}

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # ssl only loads certificates from files; they are removed as soon as they are loaded.
        with tempfile.TemporaryDirectory() as tmp:
            cert_path = os.path.join(tmp, "cert.pem")
            key_path = os.path.join(tmp, "key.pem")
            with open(cert_path, "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            with open(key_path, "wb") as f:
                f.write(
                    tls_key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            context.load_cert_chain(cert_path, key_path)

        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                idp.requests[self.path] = idp.requests.get(self.path, 0) + 1
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": idp.issuer_url,
                        "jwks_uri": idp.issuer_url + "/jwks",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/jwks":
                    body = {"keys": [idp.jwk()]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        #: The issuer URL, e.g. https://127.0.0.1:41234 (no trailing slash).
        self.issuer_url = "https://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def jwk(self):
        """The public signing key as a JWK."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def mint(self, sub, aud, exp_in=600, iat=None, nbf=None, kid=None, alg="RS256", extra=None):
        """An ID token from this issuer, signed with its key.

        `aud` is a string or a list; `iat` and `nbf` are unix seconds (default: `iat` now, no
        `nbf`); `kid` defaults to the key's; `extra` claims are added last and may override any.
        With `alg` "none" the token is unsigned; with an "HS*" alg it is signed with the RSA
        public key's PEM as the secret (the algorithm-confusion attack).
        """
        now = int(time.time())
        iat = now if iat is None else iat
        claims = {"iss": self.issuer_url, "sub": sub, "aud": aud, "iat": iat, "exp": now + exp_in}
        if nbf is not None:
            claims["nbf"] = nbf
        claims.update(extra or {})
        headers = {"kid": self.kid if kid is None else kid}
        if alg == "none":
            return jwt.encode(claims, None, algorithm="none", headers=headers)
        if alg.startswith("HS"):
            return _hmac_with_public_key(claims, headers, alg, self.key)
        return jwt.encode(claims, self.key, algorithm=alg, headers=headers)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _hmac_with_public_key(claims, headers, alg, key):
    # PyJWT refuses PEM-looking HMAC secrets (to stop exactly this attack), so the token is
    # signed by hand.
    import base64
    import hashlib
    import hmac

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = dict(headers, alg=alg, typ="JWT")
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    secret = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return signing_input + "." + b64(signature)
