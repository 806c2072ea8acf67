"""STS through the official clients: the STS SDK with both signature versions, and the
`alibabacloud-credentials` providers over HTTPS, whose credentials then drive the RAM SDK."""

import json
import os
import re

import pytest
from alibabacloud_credentials.client import Client as CredClient
from alibabacloud_credentials.models import Config as CredConfig
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.models import Config

from conftest import ENDPOINT, new_account, ram_client, sdk_error

TLS_ENDPOINT = os.environ.get("RAMPART_TLS_ENDPOINT", "")

ASSUME_ANY = json.dumps(
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
)


def sts_client(key_id, secret, token=None, version="v3", endpoint=ENDPOINT, protocol="http"):
    kwargs = dict(
        access_key_id=key_id,
        access_key_secret=secret,
        endpoint=endpoint,
        protocol=protocol,
        read_timeout=30000,
        connect_timeout=5000,
    )
    if token:
        kwargs["security_token"] = token
    if version == "v1":
        kwargs["signature_algorithm"] = "v2"
    return StsClient(Config(**kwargs))


def ram_session_client(key_id, secret, token, version="v3"):
    kwargs = dict(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token,
        endpoint=ENDPOINT,
        protocol="http",
        read_timeout=30000,
        connect_timeout=5000,
    )
    if version == "v1":
        kwargs["signature_algorithm"] = "v2"
    return RamClient(Config(**kwargs))


@pytest.fixture(scope="module")
def world():
    """A fresh account: user alice (key, may assume any role), role `ops` trusting the
    account with RAM read-only access, and role `tight` with a short maximum."""
    root = new_account("sts-interop")
    ram = ram_client(root)
    ram.create_user(ram_models.CreateUserRequest(user_name="alice"))
    key = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="alice")).body.access_key
    ram.create_policy(ram_models.CreatePolicyRequest(policy_name="assume-any", policy_document=ASSUME_ANY))
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(policy_type="Custom", policy_name="assume-any", user_name="alice")
    )
    trust = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{root.account_id}:root"]}}
            ],
        }
    )
    ram.create_role(
        ram_models.CreateRoleRequest(role_name="ops", assume_role_policy_document=trust, max_session_duration=7200)
    )
    ram.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(policy_type="System", policy_name="AliyunRAMReadOnlyAccess", role_name="ops")
    )
    return {
        "root": root,
        "alice": (key.access_key_id, key.access_key_secret),
        "ops": f"acs:ram::{root.account_id}:role/ops",
    }


@pytest.mark.parametrize("version", ["v3", "v1"])
def test_assume_role_and_use_the_session(world, version):
    alice = sts_client(*world["alice"], version=version)
    r = alice.assume_role(
        sts_models.AssumeRoleRequest(
            role_arn=world["ops"], role_session_name="interop", duration_seconds=1800, source_identity="alice"
        )
    ).body
    creds = r.credentials
    assert creds.access_key_id.startswith("STS.")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", creds.expiration)
    assert r.assumed_role_user.arn == f"{world['ops']}/interop"
    assert r.assumed_role_user.assumed_role_id.endswith(":interop")
    assert r.source_identity == "alice"

    session = sts_client(creds.access_key_id, creds.access_key_secret, creds.security_token, version=version)
    who = session.get_caller_identity().body
    assert who.identity_type == "AssumedRoleUser"
    assert who.account_id == world["root"].account_id
    assert who.arn == f"acs:ram::{world['root'].account_id}:assumed-role/ops/interop"
    assert who.role_id and who.principal_id == f"{who.role_id}:interop"

    ram = ram_session_client(creds.access_key_id, creds.access_key_secret, creds.security_token, version)
    users = ram.list_users(ram_models.ListUsersRequest()).body.users.user
    assert "alice" in [u.user_name for u in users]
    code, status, _ = sdk_error(ram.create_user, ram_models.CreateUserRequest(user_name="eve"))
    assert (code, status) == ("NoPermission", 403)


def test_caller_identity_shapes(world):
    root = world["root"]
    who = sts_client(root.key_id, root.secret).get_caller_identity().body
    assert (who.identity_type, who.account_id, who.user_id) == ("Account", root.account_id, root.account_id)
    assert who.arn == f"acs:ram::{root.account_id}:root"
    who = sts_client(*world["alice"], version="v1").get_caller_identity().body
    assert who.identity_type == "RAMUser"
    assert who.arn == f"acs:ram::{root.account_id}:user/alice"
    assert who.user_id == who.principal_id and who.role_id is None


def test_refusals_through_the_sdk(world):
    root = world["root"]
    code, status, _ = sdk_error(
        sts_client(root.key_id, root.secret).assume_role,
        sts_models.AssumeRoleRequest(role_arn=world["ops"], role_session_name="root"),
    )
    assert (code, status) == ("NoPermission", 403)
    alice = sts_client(*world["alice"])
    for request, want in [
        (sts_models.AssumeRoleRequest(role_arn=world["ops"], role_session_name="s1", duration_seconds=7201),
         "InvalidParameter.DurationSeconds"),
        (sts_models.AssumeRoleRequest(role_arn=world["ops"], role_session_name="s1", policy="{"),
         "InvalidParameter.PolicyGrammar"),
        (sts_models.AssumeRoleRequest(role_arn=world["ops"], role_session_name="s1", policy="x" * 2049),
         "InvalidParameter.PolicySize"),
        (sts_models.AssumeRoleRequest(role_arn="acs:ram::1:role/x", role_session_name="s1"),
         "InvalidParameter.RoleArn"),
    ]:
        code, status, _ = sdk_error(alice.assume_role, request)
        assert (code, status) == (want, 400)
    # Cross-account without trust: a role in another account that trusts only itself.
    other = new_account("sts-other")
    trust = json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                         "Principal": {"RAM": [f"acs:ram::{other.account_id}:root"]}}]}
    )
    ram_client(other).create_role(ram_models.CreateRoleRequest(role_name="private", assume_role_policy_document=trust))
    code, status, e = sdk_error(
        alice.assume_role,
        sts_models.AssumeRoleRequest(role_arn=f"acs:ram::{other.account_id}:role/private", role_session_name="x1"),
    )
    assert (code, status) == ("NoPermission", 403)
    assert e.data["AccessDeniedDetail"]["PolicyType"] == "AssumeRolePolicy"
    # A token that was altered, and an STS key without its token.
    creds = alice.assume_role(sts_models.AssumeRoleRequest(role_arn=world["ops"], role_session_name="t1")).body.credentials
    bad = creds.security_token[:-4] + ("AAAA" if not creds.security_token.endswith("AAAA") else "BBBB")
    code, status, _ = sdk_error(sts_client(creds.access_key_id, creds.access_key_secret, bad).get_caller_identity)
    assert (code, status) == ("InvalidSecurityToken.Malformed", 400)
    code, _, _ = sdk_error(sts_client(creds.access_key_id, creds.access_key_secret).get_caller_identity)
    assert code == "MissingSecurityToken"


def test_credentials_provider_ram_role_arn_over_https(world):
    assert TLS_ENDPOINT, "tests/interop/run starts an HTTPS node"
    provider = CredClient(
        CredConfig(
            type="ram_role_arn",
            access_key_id=world["alice"][0],
            access_key_secret=world["alice"][1],
            role_arn=world["ops"],
            role_session_name="provider",
            sts_endpoint=TLS_ENDPOINT,
        )
    )
    cred = provider.get_credential()
    assert cred.access_key_id.startswith("STS.")
    assert cred.security_token
    # The provider's credentials drive the RAM SDK (over plain HTTP on the first node: the
    # token opens on any node).
    ram = RamClient(Config(credential=provider, endpoint=ENDPOINT, protocol="http"))
    users = ram.list_users(ram_models.ListUsersRequest()).body.users.user
    assert "alice" in [u.user_name for u in users]
    who = sts_client(cred.access_key_id, cred.access_key_secret, cred.security_token,
                     endpoint=TLS_ENDPOINT, protocol="https").get_caller_identity().body
    assert who.arn.endswith(":assumed-role/ops/provider")
