"""SAML role-based SSO into the console (`/saml-role/sso`), driven as an identity provider's
page would: a form POST of a response signed by signxml (tests/interop/saml_idp.py), then the
console with the session cookie it set. Also the SP metadata, and IMS GetAccountMFAInfo
through the official SDK."""

import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from lxml import etree

from conftest import ENDPOINT
from test_federation import build_saml_world, ims_client, saml

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method, path, form=None, cookie=None):
    """(status, headers, body) without following redirects."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(f"http://{ENDPOINT}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with _opener.open(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


@pytest.fixture(scope="module")
def saml_world():
    return build_saml_world("console-sso")


def session_cookie(headers):
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("rampart_session=") and "Max-Age=0" not in value:
            return value.split(";")[0]
    return None


def test_sp_metadata_names_the_audience_and_this_servers_acs():
    status, headers, body = http("GET", "/saml-role/sp-metadata.xml")
    assert status == 200
    assert headers["Content-Type"].startswith("application/samlmetadata+xml")
    doc = etree.fromstring(body.encode())
    assert doc.get("entityID") == "urn:alibaba:cloudcomputing:international"
    acs = doc.find(f"{{{MD}}}SPSSODescriptor/{{{MD}}}AssertionConsumerService")
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert acs.get("Location") == f"http://{ENDPOINT}/saml-role/sso"


def test_a_signed_response_gives_a_console_session_as_the_role(saml_world):
    response = saml(saml_world, session_name="alice-sso")
    status, headers, body = http("POST", "/saml-role/sso", {"SAMLResponse": response})
    assert status == 303, body
    assert headers["Location"] == "/console"
    cookie = session_cookie(headers)
    assert cookie, headers
    status, _, page = http("GET", "/console", cookie=cookie)
    assert status == 200
    account = saml_world["root"].account_id
    assert f"acs:ram::{account}:assumed-role/saml-role/alice-sso" in page
    # The role's policy (AliyunRAMReadOnlyAccess) is what the session may do.
    status, _, users = http("GET", "/console/users", cookie=cookie)
    assert status == 200, users
    # One response, one session.
    status, _, again = http("POST", "/saml-role/sso", {"SAMLResponse": response})
    assert status == 401
    assert "already used" in again


def test_several_roles_are_offered_and_the_trust_policy_still_decides(saml_world):
    pairs = [(saml_world["role"], saml_world["provider"]),
             (saml_world["bob_only"], saml_world["provider"])]
    response = saml(saml_world, role_pairs=pairs)
    status, _, page = http("POST", "/saml-role/sso", {"SAMLResponse": response})
    assert status == 200
    assert "Choose a role" in page
    assert saml_world["role"] in page and saml_world["bob_only"] in page
    # The trust policy of saml-bob-only wants another subject.
    choice = f"{saml_world['bob_only']},{saml_world['provider']}"
    status, _, refused = http("POST", "/saml-role/sso",
                              {"SAMLResponse": response, "role": choice})
    assert status == 403, refused
    assert "does not allow this identity" in refused
    # A role the response does not offer is never chosen: the list comes back.
    status, _, page = http("POST", "/saml-role/sso", {
        "SAMLResponse": response,
        "role": f"acs:ram::{saml_world['root'].account_id}:role/other,{saml_world['provider']}"})
    assert status == 200 and "Choose a role" in page
    # The refusal did not spend the response: the other role still works.
    choice = f"{saml_world['role']},{saml_world['provider']}"
    status, headers, _ = http("POST", "/saml-role/sso", {"SAMLResponse": response, "role": choice})
    assert status == 303 and session_cookie(headers)


def test_expired_or_unsigned_responses_are_refused(saml_world):
    expired = saml(saml_world, not_on_or_after=time.time() - 3600)
    status, _, page = http("POST", "/saml-role/sso", {"SAMLResponse": expired})
    assert status == 401 and "sso-error" in page
    status, _, page = http("POST", "/saml-role/sso", {"SAMLResponse": "bm90IHhtbA=="})
    assert status in (400, 401) and "sso-error" in page
    status, _, _ = http("POST", "/saml-role/sso", {})
    assert status == 400


def test_account_mfa_info_through_the_ims_sdk(saml_world):
    body = ims_client(saml_world["root"]).get_account_mfainfo().body
    assert body.is_mfaenable is False
    assert body.request_id
