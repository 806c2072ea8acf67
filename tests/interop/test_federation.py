"""Federation through the official clients: SAML responses signed by an independent library
(signxml, tests/interop/saml_idp.py) sent with the official STS SDK's AssumeRoleWithSAML, and
the credentials it returns used with the RAM SDK; every refusal says which check failed."""

import base64
import json
import time

import pytest
from alibabacloud_ims20190815 import models as im
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.models import Config

from conftest import ENDPOINT, new_account, ram_client, sdk_error
from saml_idp import SamlIdp
from test_sts import ram_session_client

RECIPIENT = "https://signin.aliyun.com/saml-role/sso"
AUDIENCE = "urn:alibaba:cloudcomputing"


def anonymous_sts():
    return StsClient(Config(endpoint=ENDPOINT, protocol="http", read_timeout=30000, connect_timeout=5000))


def ims_client(creds):
    return ImsClient(Config(access_key_id=creds.key_id, access_key_secret=creds.secret,
                            endpoint=ENDPOINT, protocol="http"))


def federated_trust(provider_arn, condition):
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Federated": [provider_arn]}, "Condition": condition}]})


@pytest.fixture(scope="module")
def saml_world():
    return build_saml_world("saml-interop")


def build_saml_world(account_name):
    """A fresh account with a SAML provider (signxml's IdP) and two roles trusting it."""
    root = new_account(account_name)
    idp = SamlIdp("https://idp.example.com/saml")
    ims_client(root).create_samlprovider(im.CreateSAMLProviderRequest(
        samlprovider_name="corp-idp",
        encoded_samlmetadata_document=base64.b64encode(idp.metadata_xml().encode()).decode()))
    provider = f"acs:ram::{root.account_id}:saml-provider/corp-idp"
    ram = ram_client(root)
    ram.create_role(ram_models.CreateRoleRequest(
        role_name="saml-role", max_session_duration=7200,
        assume_role_policy_document=federated_trust(
            provider, {"StringEquals": {"saml:recipient": RECIPIENT}})))
    ram.attach_policy_to_role(ram_models.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunRAMReadOnlyAccess", role_name="saml-role"))
    # Trusts the provider, but only for another subject.
    ram.create_role(ram_models.CreateRoleRequest(
        role_name="saml-bob-only",
        assume_role_policy_document=federated_trust(provider, {"StringEquals": {"saml:sub": "bob"}})))
    return {"root": root, "idp": idp, "provider": provider,
            "role": f"acs:ram::{root.account_id}:role/saml-role",
            "bob_only": f"acs:ram::{root.account_id}:role/saml-bob-only"}


def saml(world, role=None, **kw):
    role = role or world["role"]
    args = dict(role_pairs=[(role, world["provider"])], session_name="alice",
                recipient=RECIPIENT, audience=AUDIENCE, not_on_or_after=time.time() + 300)
    args.update(kw)
    return world["idp"].response(**args)


def assume_saml(world, assertion, role=None, **extra):
    return anonymous_sts().assume_role_with_saml(sts_models.AssumeRoleWithSAMLRequest(
        samlprovider_arn=world["provider"], role_arn=role or world["role"],
        samlassertion=assertion, **extra)).body


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_saml_sign_in_gives_working_credentials(saml_world, sign):
    body = assume_saml(saml_world, saml(saml_world, sign=sign), duration_seconds=1800)
    info = body.samlassertion_info
    assert (info.issuer, info.recipient, info.subject, info.subject_type) == (
        "https://idp.example.com/saml", RECIPIENT, "alice", "persistent")
    assert body.assumed_role_user.arn == f"{saml_world['role']}/alice"
    c = body.credentials
    assert c.access_key_id.startswith("STS.")
    ram = ram_session_client(c.access_key_id, c.access_key_secret, c.security_token)
    assert ram.list_roles(ram_models.ListRolesRequest()).body.roles.role
    code, status, _ = sdk_error(ram.create_user, ram_models.CreateUserRequest(user_name="x1"))
    assert (code, status) == ("NoPermission", 403)


def test_saml_refusals_name_the_failed_check(saml_world):
    def refused(assertion, role=None):
        code, status, e = sdk_error(assume_saml, saml_world, assertion, role)
        return code, status, str(getattr(e, "message", e))

    # A replayed assertion.
    once = saml(saml_world)
    assume_saml(saml_world, once)
    code, status, msg = refused(once)
    assert (code, status) == ("AuthenticationFail.SAMLAssertion.Invalid", 401) and "already used" in msg
    # Expired.
    code, _, _ = refused(saml(saml_world, not_on_or_after=time.time() - 3600))
    assert code == "AuthenticationFail.SAMLAssertion.Expired"
    # Wrong recipient, wrong audience: the message shows what was seen.
    code, _, msg = refused(saml(saml_world, recipient="https://evil.example.com/acs"))
    assert code == "AuthenticationFail.SAMLAssertion.Invalid" and "evil.example.com" in msg
    code, _, msg = refused(saml(saml_world, audience="urn:other"))
    assert code == "AuthenticationFail.SAMLAssertion.Invalid" and "urn:other" in msg
    # The Role attribute pairs another role with this provider.
    code, _, msg = refused(saml(saml_world, role=saml_world["bob_only"]))
    assert code == "AuthenticationFail.SAMLAssertion.Invalid" and "saml-role" in msg
    # Signed, then altered: the subject renamed after signing.
    xml = base64.b64decode(saml(saml_world)).decode()
    tampered = base64.b64encode(xml.replace(">alice<", ">mallory<").encode()).decode()
    code, _, _ = refused(tampered)
    assert code == "AuthenticationFail.SAMLAssertion.Invalid"
    # Signed by a key the provider's metadata does not hold (same entity ID).
    impostor = SamlIdp("https://idp.example.com/saml")
    forged = impostor.response(role_pairs=[(saml_world["role"], saml_world["provider"])],
                               session_name="alice", recipient=RECIPIENT, audience=AUDIENCE,
                               not_on_or_after=time.time() + 300)
    code, _, _ = refused(forged)
    assert code == "AuthenticationFail.SAMLAssertion.Invalid"
    # Verified, but the trust policy wants another subject.
    code, status, msg = refused(saml(saml_world, role=saml_world["bob_only"]), role=saml_world["bob_only"])
    assert (code, status) == ("AuthenticationFail.NoPermission", 403) and "saml:sub=alice" in msg
    assert "condition StringEquals saml:sub" in msg
    # An unknown provider.
    code, status, e = sdk_error(anonymous_sts().assume_role_with_saml, sts_models.AssumeRoleWithSAMLRequest(
        samlprovider_arn=saml_world["provider"] + "-nope", role_arn=saml_world["role"],
        samlassertion=saml(saml_world)))
    assert (code, status) == ("EntityNotExist.SAMLProvider", 404)


# ---- OIDC: tokens minted by PyJWT (tests/interop/oidc_idp.py), an issuer on HTTPS with a
# self-signed certificate registered by its SHA-1 fingerprint.

import os  # noqa: E402
import tempfile  # noqa: E402

from alibabacloud_credentials.client import Client as CredClient  # noqa: E402
from alibabacloud_credentials.models import Config as CredConfig  # noqa: E402

from oidc_idp import OidcIdp  # noqa: E402
from test_sts import TLS_ENDPOINT  # noqa: E402

SUB = "system:serviceaccount:ci:deployer"


@pytest.fixture(scope="module")
def oidc_world():
    root = new_account("oidc-interop")
    idp = OidcIdp()
    ims_client(root).create_oidcprovider(im.CreateOIDCProviderRequest(
        oidcprovider_name="ci-issuer", issuer_url=idp.issuer_url, fingerprints=idp.fingerprint,
        client_ids="sts.aliyuncs.com,ci-app"))
    provider = f"acs:ram::{root.account_id}:oidc-provider/ci-issuer"
    ram = ram_client(root)
    ram.create_role(ram_models.CreateRoleRequest(
        role_name="ci-deployer",
        assume_role_policy_document=federated_trust(provider, {
            "StringEquals": {"oidc:iss": idp.issuer_url, "oidc:aud": "sts.aliyuncs.com"},
            "StringLike": {"oidc:sub": "system:serviceaccount:ci:*"}})))
    ram.attach_policy_to_role(ram_models.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunRAMReadOnlyAccess", role_name="ci-deployer"))
    yield {"root": root, "idp": idp, "provider": provider,
           "role": f"acs:ram::{root.account_id}:role/ci-deployer"}
    idp.close()


def assume_oidc(world, token, provider=None, **extra):
    return anonymous_sts().assume_role_with_oidc(sts_models.AssumeRoleWithOIDCRequest(
        oidcprovider_arn=provider or world["provider"], role_arn=world["role"],
        oidctoken=token, role_session_name="ci-run", **extra)).body


def test_oidc_sign_in_gives_working_credentials(oidc_world):
    idp = oidc_world["idp"]
    body = assume_oidc(oidc_world, idp.mint(SUB, ["sts.aliyuncs.com", "other"]), duration_seconds=900)
    info = body.oidctoken_info
    assert (info.issuer, info.subject, info.client_ids) == (idp.issuer_url, SUB, "sts.aliyuncs.com,other")
    assert info.issuance_time.endswith("Z") and info.expiration_time.endswith("Z")
    c = body.credentials
    ram = ram_session_client(c.access_key_id, c.access_key_secret, c.security_token)
    who = StsClient(Config(access_key_id=c.access_key_id, access_key_secret=c.access_key_secret,
                           security_token=c.security_token, endpoint=ENDPOINT,
                           protocol="http")).get_caller_identity().body
    assert who.arn == f"acs:ram::{oidc_world['root'].account_id}:assumed-role/ci-deployer/ci-run"
    assert ram.list_roles(ram_models.ListRolesRequest()).body.roles.role
    # The JWKS was fetched once and is cached for the next sign-in.
    assume_oidc(oidc_world, idp.mint(SUB, "sts.aliyuncs.com"))
    assert idp.requests.get("/jwks") == 1


def test_oidc_refusals_name_the_failed_check(oidc_world):
    idp = oidc_world["idp"]
    now = int(time.time())

    last = {}

    def refused(token, provider=None):
        code, status, e = sdk_error(assume_oidc, oidc_world, token, provider)
        last["error"] = e
        return code, status, str(getattr(e, "message", e))

    invalid = "AuthenticationFail.OIDCToken.Invalid"
    assert refused(idp.mint(SUB, "sts.aliyuncs.com", alg="none"))[0] == invalid
    assert refused(idp.mint(SUB, "sts.aliyuncs.com", alg="HS256"))[0] == invalid
    code, _, msg = refused(idp.mint(SUB, "sts.aliyuncs.com", kid="no-such-key"))
    assert code == invalid and "no-such-key" in msg
    assert refused(idp.mint(SUB, "sts.aliyuncs.com", exp_in=-600))[0] == "AuthenticationFail.OIDCToken.Expired"
    assert refused(idp.mint(SUB, "sts.aliyuncs.com", nbf=now + 3600))[0] == invalid
    # Issued longer ago than the provider's IssuanceLimitTime (12 h by default).
    assert refused(idp.mint(SUB, "sts.aliyuncs.com", iat=now - 13 * 3600, exp_in=600))[0] == \
        "AuthenticationFail.OIDCToken.Expired"
    code, _, msg = refused(idp.mint(SUB, "sts.aliyuncs.com", extra={"iss": "https://evil.example.com"}))
    assert code == invalid and "evil.example.com" in msg
    code, status, msg = refused(idp.mint(SUB, "somebody-else"))
    assert (code, status) == ("AuthenticationFail.OIDCToken.AudienceNotMatch", 401) and "somebody-else" in msg
    # Verified, but the subject fails the trust policy's condition: the message says what was seen.
    code, status, msg = refused(idp.mint("system:serviceaccount:prod:admin", "sts.aliyuncs.com"))
    assert (code, status) == ("AuthenticationFail.NoPermission", 403)
    assert "oidc:sub=system:serviceaccount:prod:admin" in msg
    assert "condition StringLike oidc:sub" in msg and "system:serviceaccount:ci:*" in msg
    # The role's account decodes the sealed diagnostic with the RAM SDK.
    detail = last["error"].data["AccessDeniedDetail"]
    assert (detail["PolicyType"], detail["AuthPrincipalType"]) == ("AssumeRolePolicy", "Federated")
    decoded = ram_client(oidc_world["root"]).decode_diagnostic_message(
        ram_models.DecodeDiagnosticMessageRequest(
            encoded_diagnostic_message=detail["EncodedDiagnosticMessage"])).body.decoded_diagnostic_message
    assert decoded.auth_action == "sts:AssumeRole" and decoded.auth_resource == oidc_world["role"]
    assert decoded.auth_principal.auth_principal_display_name == oidc_world["provider"]
    # Unknown provider.
    code, _, _ = refused(idp.mint(SUB, "sts.aliyuncs.com"), oidc_world["provider"] + "-nope")
    assert code == "AuthenticationFail.NoPermission"


def test_oidc_fingerprint_must_match(oidc_world):
    other = OidcIdp()
    try:
        root = oidc_world["root"]
        # Registered with the first issuer's fingerprint: this issuer's certificate is not it.
        ims_client(root).create_oidcprovider(im.CreateOIDCProviderRequest(
            oidcprovider_name="wrong-pin", issuer_url=other.issuer_url,
            fingerprints=oidc_world["idp"].fingerprint, client_ids="sts.aliyuncs.com"))
        code, _, _ = sdk_error(assume_oidc, oidc_world, other.mint(SUB, "sts.aliyuncs.com"),
                               f"acs:ram::{root.account_id}:oidc-provider/wrong-pin")
        assert code == "AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch"
        assert other.requests == {}
    finally:
        other.close()


def test_credentials_provider_oidc_role_arn_over_https(oidc_world):
    assert TLS_ENDPOINT
    with tempfile.NamedTemporaryFile("w", suffix=".jwt", delete=False) as f:
        f.write(oidc_world["idp"].mint(SUB, "sts.aliyuncs.com"))
        path = f.name
    try:
        provider = CredClient(CredConfig(
            type="oidc_role_arn", role_arn=oidc_world["role"], oidc_provider_arn=oidc_world["provider"],
            oidc_token_file_path=path, role_session_name="from-file", sts_endpoint=TLS_ENDPOINT))
        cred = provider.get_credential()
        assert cred.access_key_id.startswith("STS.")
        ram = RamClientWithProvider(provider)
        assert ram.list_roles(ram_models.ListRolesRequest()).body.roles.role
    finally:
        os.unlink(path)


def RamClientWithProvider(provider):
    from alibabacloud_ram20150501.client import Client as RamClient
    return RamClient(Config(credential=provider, endpoint=ENDPOINT, protocol="http"))
