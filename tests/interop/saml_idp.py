"""A throwaway SAML 2.0 identity provider for the interop suite.

Signs with signxml (an implementation independent of Rampart) so AssumeRoleWithSAML is tested
against what a real IdP would send. Needs: signxml, lxml, cryptography.

    idp = SamlIdp("https://idp.example.test/metadata")
    CreateSAMLProvider(EncodedSAMLMetadataDocument=base64(idp.metadata_xml()), ...)
    assertion = idp.response([(role_arn, provider_arn)], "alice",
                             recipient="https://signin.alibabacloud.com/saml-role/sso",
                             audience="urn:alibaba:cloudcomputing:international",
                             not_on_or_after=time.time() + 300)
"""

import base64
import copy
import datetime
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner, methods

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
ROLE_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/Role"
SESSION_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName"


def _q(ns, tag):
    return "{%s}%s" % (ns, tag)


def _time(value):
    """Accepts Unix seconds or an aware datetime; SAML wants UTC with a Z."""
    if isinstance(value, datetime.datetime):
        value = value.timestamp()
    return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _sub(parent, ns, tag, text=None, **attrs):
    el = etree.SubElement(parent, _q(ns, tag), **attrs)
    if text is not None:
        el.text = text
    return el


class SamlIdp:
    def __init__(self, entity_id):
        self.entity_id = entity_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rampart interop IdP")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(self._key, hashes.SHA256())
        )
        self._key_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        self._cert_pem = self._cert.public_bytes(serialization.Encoding.PEM)

    def metadata_xml(self):
        der = self._cert.public_bytes(serialization.Encoding.DER)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="%s/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
            % (self.entity_id, base64.b64encode(der).decode(), self.entity_id.rstrip("/"))
        )

    def response(self, role_pairs, session_name, recipient, audience, not_on_or_after,
                 assertion_id=None, sign="assertion"):
        """Base64 of a whole signed Response, as AssumeRoleWithSAML's SAMLAssertion.

        role_pairs: [(role_arn, saml_provider_arn), ...]; sign: 'assertion' or 'response'.
        """
        if sign not in ("assertion", "response"):
            raise ValueError("sign must be 'assertion' or 'response'")
        assertion_id = assertion_id or "_" + uuid.uuid4().hex
        now = _time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
        expiry = _time(not_on_or_after)

        a = etree.Element(_q(NS_A, "Assertion"), nsmap={"saml": NS_A}, ID=assertion_id,
                          Version="2.0", IssueInstant=now)
        _sub(a, NS_A, "Issuer", self.entity_id)
        subject = _sub(a, NS_A, "Subject")
        _sub(subject, NS_A, "NameID", session_name,
             Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        sc = _sub(subject, NS_A, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
        _sub(sc, NS_A, "SubjectConfirmationData", NotOnOrAfter=expiry, Recipient=recipient)
        cond = _sub(a, NS_A, "Conditions", NotBefore=now, NotOnOrAfter=expiry)
        _sub(_sub(cond, NS_A, "AudienceRestriction"), NS_A, "Audience", audience)
        authn = _sub(a, NS_A, "AuthnStatement", AuthnInstant=now, SessionIndex=assertion_id)
        _sub(_sub(authn, NS_A, "AuthnContext"), NS_A, "AuthnContextClassRef",
             "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
        stmt = _sub(a, NS_A, "AttributeStatement")
        roles = _sub(stmt, NS_A, "Attribute", Name=ROLE_ATTR)
        for role_arn, provider_arn in role_pairs:
            _sub(roles, NS_A, "AttributeValue", "%s,%s" % (role_arn, provider_arn))
        _sub(_sub(stmt, NS_A, "Attribute", Name=SESSION_ATTR), NS_A, "AttributeValue", session_name)

        if sign == "assertion":
            a = self._sign(a)
        r = etree.Element(_q(NS_P, "Response"), nsmap={"samlp": NS_P, "saml": NS_A},
                          ID="_" + uuid.uuid4().hex, Version="2.0", IssueInstant=now,
                          Destination=recipient)
        _sub(r, NS_A, "Issuer", self.entity_id)
        _sub(_sub(r, NS_P, "Status"), NS_P, "StatusCode",
             Value="urn:oasis:names:tc:SAML:2.0:status:Success")
        r.append(a)
        if sign == "response":
            r = self._sign(r)
        return base64.b64encode(etree.tostring(r, xml_declaration=True, encoding="UTF-8")).decode()

    def _sign(self, element):
        element = copy.deepcopy(element)
        # SAML's schema wants the enveloped Signature right after Issuer.
        element.insert(1, etree.Element(_q(NS_DS, "Signature"), Id="placeholder", nsmap={"ds": NS_DS}))
        # Exclusive c14n keeps a signed Assertion's digest once it is placed in the Response.
        signer = XMLSigner(
            method=methods.enveloped,
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        return signer.sign(element, key=self._key_pem, cert=self._cert_pem,
                           reference_uri=element.get("ID"))
