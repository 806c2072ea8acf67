"""IMS 2019-08-15 identity providers through the official alibabacloud_ims20190815 SDK (V3 and
V1 signatures): OIDC and SAML provider lifecycles, the SDK's models as the contract for every
field, and Alibaba-style errors for bad input."""

import base64
import os

import pytest
from alibabacloud_ims20190815 import models as im
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_tea_openapi.models import Config

from conftest import ENDPOINT, sdk_error

FP1 = "902ef2deeb3c5b13ea4c3d5193629309e231ae55"
METADATA_PATH = os.path.join(
    os.path.dirname(__file__), "..", "..", "crates", "federation", "tests", "fixtures",
    "idp-metadata.xml")


def fp(n):
    return f"{n:02x}" * 20


def metadata_b64(xml=None):
    if xml is None:
        with open(METADATA_PATH, encoding="utf-8") as f:
            xml = f.read()
    return base64.b64encode(xml.encode()).decode()


@pytest.fixture(params=["v3", "v1"])
def ims(request, root):
    kwargs = dict(
        access_key_id=root.key_id,
        access_key_secret=root.secret,
        endpoint=ENDPOINT,
        protocol="http",
        read_timeout=30000,
        connect_timeout=5000,
    )
    if request.param == "v1":
        kwargs["signature_algorithm"] = "v2"
    return ImsClient(Config(**kwargs))


def test_oidc_provider_lifecycle(ims, root, name):
    pname = name("oidc")
    issuer = f"https://{pname}.oidc.example.com/cluster"
    created = ims.create_oidcprovider(im.CreateOIDCProviderRequest(
        oidcprovider_name=pname, issuer_url=issuer, fingerprints=FP1.upper(),
        client_ids="sts.aliyuncs.com,app-1", description="ACK RRSA")).body.oidcprovider
    assert created.oidcprovider_name == pname
    assert created.arn == f"acs:ram::{root.account_id}:oidc-provider/{pname}"
    assert created.issuer_url == issuer
    assert created.fingerprints == FP1
    assert created.client_ids == "sts.aliyuncs.com,app-1"
    assert created.issuance_limit_time == 12
    assert created.description == "ACK RRSA"
    assert created.create_date.endswith("Z")
    assert isinstance(created.gmt_create, str) and created.gmt_create.isdigit()
    assert created.gmt_modified == created.gmt_create

    got = ims.get_oidcprovider(im.GetOIDCProviderRequest(oidcprovider_name=pname)).body
    assert got.request_id
    assert got.oidcprovider.to_map() == created.to_map()

    upd = ims.update_oidcprovider(im.UpdateOIDCProviderRequest(
        oidcprovider_name=pname, client_ids="only-this", issuance_limit_time=168,
        new_description="changed")).body.oidcprovider
    assert (upd.client_ids, upd.issuance_limit_time, upd.description) == (
        "only-this", 168, "changed")

    p = ims.add_client_id_to_oidcprovider(im.AddClientIdToOIDCProviderRequest(
        oidcprovider_name=pname, client_id="api://default")).body.oidcprovider
    assert p.client_ids == "only-this,api://default"
    p = ims.remove_client_id_from_oidcprovider(im.RemoveClientIdFromOIDCProviderRequest(
        oidcprovider_name=pname, client_id="only-this")).body.oidcprovider
    assert p.client_ids == "api://default"

    p = ims.add_fingerprint_to_oidcprovider(im.AddFingerprintToOIDCProviderRequest(
        oidcprovider_name=pname, fingerprint=fp(2))).body.oidcprovider
    assert p.fingerprints == f"{FP1},{fp(2)}"
    p = ims.remove_fingerprint_from_oidcprovider(im.RemoveFingerprintFromOIDCProviderRequest(
        oidcprovider_name=pname, fingerprint=FP1)).body.oidcprovider
    assert p.fingerprints == fp(2)

    names = []
    marker = None
    while True:
        body = ims.list_oidcproviders(im.ListOIDCProvidersRequest(
            marker=marker, max_items=1)).body
        names += [x.oidcprovider_name for x in body.oidcproviders.oidcprovider]
        if not body.is_truncated:
            break
        marker = body.marker
    assert pname in names

    ims.delete_oidcprovider(im.DeleteOIDCProviderRequest(oidcprovider_name=pname))
    code, status, _ = sdk_error(ims.get_oidcprovider,
                                im.GetOIDCProviderRequest(oidcprovider_name=pname))
    assert (code, status) == ("EntityNotExist.OIDCProvider", 404)


def test_oidc_errors(ims, name):
    pname = name("oidcerr")
    issuer = f"https://{pname}.example.com"

    def create(**kw):
        args = dict(oidcprovider_name=pname, issuer_url=issuer, fingerprints=FP1)
        args.update(kw)
        return ims.create_oidcprovider(im.CreateOIDCProviderRequest(**args))

    for bad in ["http://insecure.example.com", f"{issuer}/?a=b", f"{issuer}#f",
                "https://user@host.example.com"]:
        code, status, _ = sdk_error(lambda: create(issuer_url=bad))
        assert (code, status) == ("InvalidParameter.IssuerUrl.Format", 400), bad
    six = ",".join(fp(i) for i in range(1, 7))
    code, status, _ = sdk_error(lambda: create(fingerprints=six))
    assert (code, status) == ("LimitExceeded.OIDCProvider.Fingerprint", 409)
    code, _, _ = sdk_error(lambda: create(fingerprints="zz"))
    assert code == "InvalidParameter.Fingerprints.Length"
    code, _, _ = sdk_error(lambda: create(issuance_limit_time=0))
    assert code == "InvalidParameter.IssuanceLimitTime"

    create()
    code, status, _ = sdk_error(create)
    assert (code, status) == ("EntityAlreadyExists.OIDCProvider", 409)
    code, status, _ = sdk_error(lambda: create(oidcprovider_name=pname + "-2"))
    assert (code, status) == ("EntityAlreadyExists.OIDCProvider.IssuerUrl", 409)

    for n in range(2, 6):
        ims.add_fingerprint_to_oidcprovider(im.AddFingerprintToOIDCProviderRequest(
            oidcprovider_name=pname, fingerprint=fp(n)))
    code, status, _ = sdk_error(
        ims.add_fingerprint_to_oidcprovider,
        im.AddFingerprintToOIDCProviderRequest(oidcprovider_name=pname, fingerprint=fp(9)))
    assert (code, status) == ("LimitExceeded.OIDCProvider.Fingerprint", 409)
    code, status, _ = sdk_error(
        ims.remove_client_id_from_oidcprovider,
        im.RemoveClientIdFromOIDCProviderRequest(oidcprovider_name=pname, client_id="nope"))
    assert (code, status) == ("EntityNotExist.OIDCProvider.ClientId", 404)
    code, status, e = sdk_error(
        ims.get_oidcprovider, im.GetOIDCProviderRequest(oidcprovider_name=name("ghost")))
    assert (code, status) == ("EntityNotExist.OIDCProvider", 404)
    assert e.data["HostId"] == "ims.aliyuncs.com"


def test_saml_provider_lifecycle(ims, root, name):
    pname = name("saml")
    doc = metadata_b64()
    created = ims.create_samlprovider(im.CreateSAMLProviderRequest(
        samlprovider_name=pname, encoded_samlmetadata_document=doc,
        description="corporate IdP")).body.samlprovider
    assert created.samlprovider_name == pname
    assert created.arn == f"acs:ram::{root.account_id}:saml-provider/{pname}"
    assert created.authn_sign_algo == "rsa-sha1"
    assert created.description == "corporate IdP"
    assert created.create_date.endswith("Z") and created.update_date.endswith("Z")

    got = ims.get_samlprovider(im.GetSAMLProviderRequest(samlprovider_name=pname)).body
    assert got.samlprovider.encoded_samlmetadata_document == doc
    assert got.samlprovider.arn == created.arn

    upd = ims.update_samlprovider(im.UpdateSAMLProviderRequest(
        samlprovider_name=pname, new_description="new", authn_sign_algo="rsa-sha256")).body
    assert upd.samlprovider.description == "new"
    assert upd.samlprovider.authn_sign_algo == "rsa-sha256"

    listed = ims.list_samlproviders(im.ListSAMLProvidersRequest(max_items=100)).body
    mine = [p for p in listed.samlproviders.samlprovider if p.samlprovider_name == pname]
    assert len(mine) == 1 and mine[0].description == "new"

    ims.delete_samlprovider(im.DeleteSAMLProviderRequest(samlprovider_name=pname))
    code, status, _ = sdk_error(ims.get_samlprovider,
                                im.GetSAMLProviderRequest(samlprovider_name=pname))
    assert (code, status) == ("EntityNotExist.SAMLProvider", 404)


def test_saml_bad_metadata(ims, name):
    pname = name("samlbad")
    with open(METADATA_PATH, encoding="utf-8") as f:
        good = f.read()
    for doc, why in [
        ("@@not base64@@", "Base64"),
        (metadata_b64("<html>not metadata</html>"), "EntityDescriptor"),
        (metadata_b64(good.replace("IDPSSODescriptor", "SPSSODescriptor")), "IDPSSODescriptor"),
        (metadata_b64(good.replace('use="signing"', 'use="encryption"')), "signing certificate"),
    ]:
        code, status, e = sdk_error(ims.create_samlprovider, im.CreateSAMLProviderRequest(
            samlprovider_name=pname, encoded_samlmetadata_document=doc))
        assert (code, status) == ("InvalidParameter.EncodedSAMLMetadataDocument", 400), why
        assert why in e.data["Message"], e.data["Message"]
    code, status, _ = sdk_error(ims.get_samlprovider,
                                im.GetSAMLProviderRequest(samlprovider_name=pname))
    assert (code, status) == ("EntityNotExist.SAMLProvider", 404)
