"""More of RAM through the official SDKs: the error envelope as the SDKs expose it, group and
role policy listings, root AccessKeys, JSON-array parameters and free text through the core
SDK's V1 signing, a nonce replayed by the core SDK itself, and group pagination."""

import json

import pytest
from alibabacloud_ram20150501 import models as m

from conftest import ENDPOINT, Creds, new_account, ram_client, sdk_error

READ_USERS = json.dumps({
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": ["ram:ListUsers", "ram:GetUser"], "Resource": "*"}],
})
TRUST_ECS = json.dumps({
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
})
ENVELOPE = {"RequestId", "HostId", "Code", "Message", "Recommend"}


def check_envelope(e, code, status):
    """The tea SDK's exception: code, status_code, request_id, and the body dict in data."""
    assert (e.code, e.status_code) == (code, status)
    assert ENVELOPE <= set(e.data), e.data
    assert e.data["Code"] == code and e.data["Message"]
    assert e.request_id == e.data["RequestId"] and len(e.request_id) == 36
    assert e.data["HostId"] == "ram.aliyuncs.com"
    assert code in e.data["Recommend"]


# ---------------------------------------------------------------------------------------
# Error envelope, both signatures of the tea SDK

def test_error_envelope(ram, name):
    _, _, e = sdk_error(ram.get_user, m.GetUserRequest(user_name=name("ghost")))
    check_envelope(e, "EntityNotExist.User", 404)
    user = name("env")
    ram.create_user(m.CreateUserRequest(user_name=user))
    _, _, e = sdk_error(ram.create_user, m.CreateUserRequest(user_name=user))
    check_envelope(e, "EntityAlreadyExists.User", 409)
    _, _, e = sdk_error(ram.create_policy, m.CreatePolicyRequest(
        policy_name=name("mal"), policy_document="{not json"))
    check_envelope(e, "MalformedPolicyDocument", 400)


def test_access_denied_detail_over_v1(ram, name):
    """The tea SDK lifts AccessDeniedDetail into the exception whichever signature it used."""
    user = name("denied")
    ram.create_user(m.CreateUserRequest(user_name=user))
    k = ram.create_access_key(m.CreateAccessKeyRequest(user_name=user)).body.access_key
    as_user = ram_client(Creds("", k.access_key_id, k.access_key_secret), "v1")
    _, _, e = sdk_error(as_user.get_user, m.GetUserRequest(user_name=user))
    check_envelope(e, "NoPermission", 403)
    detail = e.access_denied_detail
    assert detail == e.data["AccessDeniedDetail"]
    assert detail["AuthAction"] == "ram:GetUser"
    assert detail["AuthPrincipalType"] == "SubUser"
    assert detail["AuthPrincipalDisplayName"]
    assert detail["EncodedDiagnosticMessage"]


# ---------------------------------------------------------------------------------------
# Policies on groups and roles, and UpdatePolicyDescription

def test_group_and_role_policy_listings(ram, root, name):
    policy, group, role = name("gp"), name("gg"), name("gr")
    ram.create_policy(m.CreatePolicyRequest(policy_name=policy, policy_document=READ_USERS,
                                            description="before"))
    up = ram.update_policy_description(m.UpdatePolicyDescriptionRequest(
        policy_name=policy, new_description="after")).body.policy
    assert (up.policy_name, up.description, up.policy_type, up.default_version) == (
        policy, "after", "Custom", "v1")
    got = ram.get_policy(m.GetPolicyRequest(policy_name=policy, policy_type="Custom")).body.policy
    assert got.description == "after" and got.update_date

    ram.create_group(m.CreateGroupRequest(group_name=group))
    ram.create_role(m.CreateRoleRequest(role_name=role, assume_role_policy_document=TRUST_ECS))
    ram.attach_policy_to_group(m.AttachPolicyToGroupRequest(
        group_name=group, policy_type="Custom", policy_name=policy))
    ram.attach_policy_to_group(m.AttachPolicyToGroupRequest(
        group_name=group, policy_type="System", policy_name="ReadOnlyAccess"))
    ram.attach_policy_to_role(m.AttachPolicyToRoleRequest(
        role_name=role, policy_type="Custom", policy_name=policy))

    listed = ram.list_policies_for_group(m.ListPoliciesForGroupRequest(group_name=group)).body
    rows = sorted((p.policy_name, p.policy_type, p.default_version) for p in listed.policies.policy)
    assert rows == sorted([(policy, "Custom", "v1"), ("ReadOnlyAccess", "System", "v1")])
    assert all(p.attach_date for p in listed.policies.policy)
    mine = [p for p in listed.policies.policy if p.policy_name == policy][0]
    assert mine.description == "after"

    ents = ram.list_entities_for_policy(m.ListEntitiesForPolicyRequest(
        policy_name=policy, policy_type="Custom")).body
    assert [(g.group_name, bool(g.attach_date)) for g in ents.groups.group] == [(group, True)]
    assert [(r.role_name, r.arn) for r in ents.roles.role] == [
        (role, f"acs:ram::{root.account_id}:role/{role}")]
    assert not ents.users.user
    assert ram.get_policy(m.GetPolicyRequest(
        policy_name=policy, policy_type="Custom")).body.policy.attachment_count == 2

    code, status, _ = sdk_error(ram.delete_group, m.DeleteGroupRequest(group_name=group))
    assert (code, status) == ("DeleteConflict.Group.Policy", 409)
    code, status, _ = sdk_error(ram.delete_policy, m.DeletePolicyRequest(policy_name=policy))
    assert status == 409 and code.startswith("DeleteConflict.Policy.")
    code, status, _ = sdk_error(ram.list_policies_for_group,
                                m.ListPoliciesForGroupRequest(group_name=name("nogroup")))
    assert (code, status) == ("EntityNotExist.Group", 404)

    ram.detach_policy_from_group(m.DetachPolicyFromGroupRequest(
        group_name=group, policy_type="Custom", policy_name=policy))
    ram.detach_policy_from_group(m.DetachPolicyFromGroupRequest(
        group_name=group, policy_type="System", policy_name="ReadOnlyAccess"))
    ram.detach_policy_from_role(m.DetachPolicyFromRoleRequest(
        role_name=role, policy_type="Custom", policy_name=policy))
    assert not ram.list_policies_for_group(
        m.ListPoliciesForGroupRequest(group_name=group)).body.policies.policy
    ram.delete_policy(m.DeletePolicyRequest(policy_name=policy))
    ram.delete_group(m.DeleteGroupRequest(group_name=group))
    ram.delete_role(m.DeleteRoleRequest(role_name=role))


# ---------------------------------------------------------------------------------------
# The account's own (root) AccessKeys, in a fresh account so the shared one keeps its key

def test_root_access_keys(name):
    acct = new_account(name("rootkeys"))
    ram = ram_client(acct)
    keys = ram.list_access_keys(m.ListAccessKeysRequest()).body.access_keys.access_key
    assert [k.access_key_id for k in keys] == [acct.key_id]
    new = ram.create_access_key(m.CreateAccessKeyRequest()).body.access_key
    assert new.access_key_id != acct.key_id and new.status == "Active"
    as_new = ram_client(Creds(acct.account_id, new.access_key_id, new.access_key_secret))
    assert as_new.list_users(m.ListUsersRequest()).body.users.user == []
    ram.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=new.access_key_id,
                                                   status="Inactive"))
    _, _, e = sdk_error(as_new.list_users, m.ListUsersRequest())
    assert (e.code, e.status_code) == ("InvalidAccessKeyId.Inactive", 400)
    ram.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=new.access_key_id))
    keys = ram.list_access_keys(m.ListAccessKeysRequest()).body.access_keys.access_key
    assert [k.access_key_id for k in keys] == [acct.key_id]


# ---------------------------------------------------------------------------------------
# The core SDK (V1, aliyunsdkram request classes): JSON-array parameters, which it writes
# with json.dumps (so with spaces), and free text with characters every encoder treats
# differently

def core_client(creds, **kwargs):
    from aliyunsdkcore.client import AcsClient
    return AcsClient(creds.key_id, creds.secret, "cn-hangzhou", **kwargs)


def core_do(client, request):
    request.set_endpoint(ENDPOINT)
    request.set_protocol_type("http")
    request.set_accept_format("json")
    return json.loads(client.do_action_with_exception(request))


def test_core_sdk_tags_and_free_text(root, name):
    from aliyunsdkram.request.v20150501 import (CreatePolicyRequest, GetPolicyRequest,
                                                ListTagResourcesRequest, TagResourcesRequest,
                                                UntagResourcesRequest)
    client = core_client(root)
    policy = name("corepol")
    document = json.dumps(json.loads(READ_USERS), indent=2)  # spaces and newlines
    description = "tag test: a+b=c & 50% ~*/ 中文"
    req = CreatePolicyRequest.CreatePolicyRequest()
    req.set_PolicyName(policy)
    req.set_PolicyDocument(document)
    req.set_Description(description)
    created = core_do(client, req)["Policy"]
    assert (created["PolicyName"], created["Description"]) == (policy, description)
    req = GetPolicyRequest.GetPolicyRequest()
    req.set_PolicyName(policy)
    req.set_PolicyType("Custom")
    got = core_do(client, req)
    assert got["DefaultPolicyVersion"]["PolicyDocument"] == document

    req = TagResourcesRequest.TagResourcesRequest()
    req.set_ResourceType("policy")
    req.set_ResourceNames([policy])
    req.set_Tag([{"Key": "owner", "Value": "team a/b"}, {"Key": "env", "Value": "prod"}])
    core_do(client, req)
    req = ListTagResourcesRequest.ListTagResourcesRequest()
    req.set_ResourceType("policy")
    req.set_ResourceNames([policy])
    rows = core_do(client, req)["TagResources"]
    assert sorted((r["ResourceName"], r["TagKey"], r["TagValue"]) for r in rows) == [
        (policy, "env", "prod"), (policy, "owner", "team a/b")]
    req = UntagResourcesRequest.UntagResourcesRequest()
    req.set_ResourceType("policy")
    req.set_ResourceNames([policy])
    req.set_TagKeys(["owner"])
    core_do(client, req)
    req = ListTagResourcesRequest.ListTagResourcesRequest()
    req.set_ResourceType("policy")
    req.set_ResourceNames([policy])
    assert [(r["TagKey"], r["TagValue"]) for r in core_do(client, req)["TagResources"]] == [
        ("env", "prod")]


def test_core_sdk_replayed_nonce(root, monkeypatch):
    """The core SDK signing twice with the same SignatureNonce: the second is refused."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.utils import parameter_helper
    from aliyunsdkram.request.v20150501 import ListUsersRequest

    fixed = parameter_helper.get_uuid()
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: fixed)
    client = core_client(root, auto_retry=False)
    core_do(client, ListUsersRequest.ListUsersRequest())
    with pytest.raises(ServerException) as info:
        core_do(client, ListUsersRequest.ListUsersRequest())
    assert info.value.get_error_code() == "SignatureNonceUsed"
    assert info.value.get_http_status() == 400
    assert info.value.get_request_id()


def test_core_sdk_wrong_secret(root):
    """The core SDK turns SignatureDoesNotMatch into InvalidAccessKeySecret exactly when the
    server's message, split at ':', carries the very string-to-sign the SDK signed: so this
    checks that the server quotes its V1 string-to-sign and that both sides canonicalise alike."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkram.request.v20150501 import ListUsersRequest

    client = core_client(Creds(root.account_id, root.key_id, "y" * 30), auto_retry=False)
    with pytest.raises(ServerException) as info:
        core_do(client, ListUsersRequest.ListUsersRequest())
    assert info.value.get_error_code() == "InvalidAccessKeySecret"
    assert info.value.get_http_status() == 400


# ---------------------------------------------------------------------------------------
# Free text and pagination through the tea SDK

def test_free_text_round_trips(ram, name):
    user = name("text")
    comments = "O'Brien & co: 100% ~*+/=? 张三"
    ram.create_user(m.CreateUserRequest(user_name=user, display_name="Zhang San",
                                        comments=comments))
    got = ram.get_user(m.GetUserRequest(user_name=user)).body.user
    assert (got.display_name, got.comments) == ("Zhang San", comments)


def test_group_pagination(name):
    client = ram_client(new_account(name("gpages")))
    created = sorted(f"g{i:02d}" for i in range(7))
    for g in created:
        client.create_group(m.CreateGroupRequest(group_name=g))
    seen, marker, pages = [], None, 0
    while True:
        body = client.list_groups(m.ListGroupsRequest(max_items=3, marker=marker)).body
        seen += [g.group_name for g in body.groups.group]
        pages += 1
        if not body.is_truncated:
            break
        marker = body.marker
    assert (seen, pages) == (created, 3)
