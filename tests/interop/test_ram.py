"""RAM 2015-05-01 through the official SDKs: alibabacloud_ram20150501 (V3 and V1 signatures)
and aliyun-python-sdk-core + aliyun-python-sdk-ram (V1, the older generation)."""

import base64
import hashlib
import hmac
import json
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

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


# ---------------------------------------------------------------------------------------
# Users

def test_user_crud(ram, name):
    user = name("user")
    r = ram.create_user(m.CreateUserRequest(
        user_name=user, display_name="Alice Zhang", email="alice@example.com",
        mobile_phone="86-18600008888", comments="dev team"))
    u = r.body.user
    assert (u.user_name, u.display_name, u.email, u.mobile_phone, u.comments) == (
        user, "Alice Zhang", "alice@example.com", "86-18600008888", "dev team")
    assert u.user_id.isdigit()
    assert datetime.strptime(u.create_date, "%Y-%m-%dT%H:%M:%SZ")
    assert len(r.body.request_id) == 36 and r.body.request_id == r.body.request_id.upper()

    got = ram.get_user(m.GetUserRequest(user_name=user.upper())).body.user
    assert got.user_id == u.user_id and got.update_date

    renamed = name("renamed")
    up = ram.update_user(m.UpdateUserRequest(
        user_name=user, new_user_name=renamed, new_display_name="A. Zhang", new_comments="x y"))
    assert (up.body.user.user_name, up.body.user.display_name) == (renamed, "A. Zhang")
    code, status, _ = sdk_error(ram.get_user, m.GetUserRequest(user_name=user))
    assert (code, status) == ("EntityNotExist.User", 404)

    ram.delete_user(m.DeleteUserRequest(user_name=renamed))
    code, status, _ = sdk_error(ram.get_user, m.GetUserRequest(user_name=renamed))
    assert (code, status) == ("EntityNotExist.User", 404)


def test_user_errors(ram, name):
    user = name("dup")
    ram.create_user(m.CreateUserRequest(user_name=user))
    code, status, e = sdk_error(ram.create_user, m.CreateUserRequest(user_name=user))
    assert (code, status) == ("EntityAlreadyExists.User", 409)
    code, status, _ = sdk_error(ram.create_user, m.CreateUserRequest(user_name="bad name!"))
    assert (code, status) == ("InvalidParameter.UserName.InvalidChars", 400)
    code, status, _ = sdk_error(ram.create_user, m.CreateUserRequest(user_name="x" * 65))
    assert (code, status) == ("InvalidParameter.UserName.Length", 400)
    code, status, _ = sdk_error(ram.create_user, m.CreateUserRequest(
        user_name=name("mail"), email="not-an-email"))
    assert (code, status) == ("InvalidParameter.Email.Format", 400)

    ram.create_access_key(m.CreateAccessKeyRequest(user_name=user))
    code, status, _ = sdk_error(ram.delete_user, m.DeleteUserRequest(user_name=user))
    assert (code, status) == ("DeleteConflict.User.AccessKey", 409)


def test_pagination_across_250_users(ram3, root, name):
    # A fresh account so the listing holds exactly these users.
    acct = new_account(name("pages"))
    client = ram_client(acct)
    created = sorted(f"u{i:03d}" for i in range(250))
    for u in created:
        client.create_user(m.CreateUserRequest(user_name=u))
    seen, marker, pages = [], None, 0
    while True:
        r = client.list_users(m.ListUsersRequest(max_items=100, marker=marker)).body
        seen += [u.user_name for u in r.users.user]
        pages += 1
        if not r.is_truncated:
            assert not r.marker
            break
        assert r.marker
        marker = r.marker
    assert pages == 3
    assert seen == created
    code, status, _ = sdk_error(client.list_users, m.ListUsersRequest(marker="not-a-marker"))
    assert status == 400 and code.startswith("InvalidParameter")


# ---------------------------------------------------------------------------------------
# Groups and membership

def test_groups_and_membership(ram, name):
    group, user = name("grp"), name("member")
    g = ram.create_group(m.CreateGroupRequest(group_name=group, comments="ops")).body.group
    assert g.group_name == group and g.comments == "ops" and g.group_id
    assert ram.get_group(m.GetGroupRequest(group_name=group)).body.group.group_id == g.group_id
    ram.create_user(m.CreateUserRequest(user_name=user))
    ram.add_user_to_group(m.AddUserToGroupRequest(group_name=group, user_name=user))
    code, status, _ = sdk_error(ram.add_user_to_group,
                                m.AddUserToGroupRequest(group_name=group, user_name=user))
    assert (code, status) == ("EntityAlreadyExists.User.Group", 409)
    groups = ram.list_groups_for_user(m.ListGroupsForUserRequest(user_name=user)).body.groups.group
    assert [x.group_name for x in groups] == [group] and groups[0].join_date
    members = ram.list_users_for_group(m.ListUsersForGroupRequest(group_name=group)).body
    assert [x.user_name for x in members.users.user] == [user]
    assert members.is_truncated is False

    code, status, _ = sdk_error(ram.delete_group, m.DeleteGroupRequest(group_name=group))
    assert (code, status) == ("DeleteConflict.Group.User", 409)
    code, status, _ = sdk_error(ram.delete_user, m.DeleteUserRequest(user_name=user))
    assert (code, status) == ("DeleteConflict.User.Group", 409)
    ram.remove_user_from_group(m.RemoveUserFromGroupRequest(group_name=group, user_name=user))

    new = name("grp2")
    up = ram.update_group(m.UpdateGroupRequest(group_name=group, new_group_name=new,
                                               new_comments="renamed")).body.group
    assert (up.group_name, up.comments) == (new, "renamed")
    listed = [x.group_name for x in ram.list_groups(m.ListGroupsRequest(max_items=1000)).body.groups.group]
    assert new in listed and group not in listed
    ram.delete_group(m.DeleteGroupRequest(group_name=new))
    code, status, _ = sdk_error(ram.get_group, m.GetGroupRequest(group_name=new))
    assert (code, status) == ("EntityNotExist.Group", 404)


# ---------------------------------------------------------------------------------------
# Roles

def test_roles(ram, root, name):
    role = name("role")
    r = ram.create_role(m.CreateRoleRequest(
        role_name=role, assume_role_policy_document=TRUST_ECS, description="for ecs",
        max_session_duration=7200)).body.role
    assert r.arn == f"acs:ram::{root.account_id}:role/{role}"
    assert r.max_session_duration == 7200 and r.role_id.isdigit()
    got = ram.get_role(m.GetRoleRequest(role_name=role)).body.role
    assert json.loads(got.assume_role_policy_document) == json.loads(TRUST_ECS)
    assert got.is_service_linked_role is False

    code, status, e = sdk_error(ram.create_role, m.CreateRoleRequest(
        role_name=name("badtrust"), assume_role_policy_document=READ_USERS))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    code, status, _ = sdk_error(ram.create_role, m.CreateRoleRequest(
        role_name=name("dur"), assume_role_policy_document=TRUST_ECS, max_session_duration=100))
    assert status == 400 and code == "InvalidParameter.MaxSessionDuration"

    up = ram.update_role(m.UpdateRoleRequest(role_name=role, new_description="updated",
                                             new_max_session_duration=3600)).body.role
    assert (up.description, up.max_session_duration) == ("updated", 3600)
    roles = ram.list_roles(m.ListRolesRequest(max_items=1000)).body.roles.role
    assert role in [x.role_name for x in roles]

    ram.attach_policy_to_role(m.AttachPolicyToRoleRequest(
        role_name=role, policy_type="System", policy_name="ReadOnlyAccess"))
    code, status, _ = sdk_error(ram.delete_role, m.DeleteRoleRequest(role_name=role))
    assert (code, status) == ("DeleteConflict.Role.Policy", 409)
    pol = ram.list_policies_for_role(m.ListPoliciesForRoleRequest(role_name=role)).body
    assert [p.policy_name for p in pol.policies.policy] == ["ReadOnlyAccess"]
    ram.detach_policy_from_role(m.DetachPolicyFromRoleRequest(
        role_name=role, policy_type="System", policy_name="ReadOnlyAccess"))
    ram.delete_role(m.DeleteRoleRequest(role_name=role))
    code, status, _ = sdk_error(ram.get_role, m.GetRoleRequest(role_name=role))
    assert (code, status) == ("EntityNotExist.Role", 404)


# ---------------------------------------------------------------------------------------
# Policies, versions, attachments

def test_policies_versions_and_attachments(ram, name):
    policy, user, group = name("pol"), name("pu"), name("pg")
    p = ram.create_policy(m.CreatePolicyRequest(
        policy_name=policy, policy_document=READ_USERS, description="read users")).body.policy
    assert (p.policy_type, p.default_version) == ("Custom", "v1")
    got = ram.get_policy(m.GetPolicyRequest(policy_name=policy, policy_type="Custom")).body
    assert json.loads(got.default_policy_version.policy_document) == json.loads(READ_USERS)
    assert got.default_policy_version.is_default_version is True
    assert got.policy.attachment_count == 0

    for i in range(2, 6):
        v = ram.create_policy_version(m.CreatePolicyVersionRequest(
            policy_name=policy, policy_document=READ_USERS, set_as_default=(i == 3))).body
        assert v.policy_version.version_id == f"v{i}"
    code, status, _ = sdk_error(ram.create_policy_version, m.CreatePolicyVersionRequest(
        policy_name=policy, policy_document=READ_USERS))
    assert (code, status) == ("LimitExceeded.Policy.Version", 409)
    rotated = ram.create_policy_version(m.CreatePolicyVersionRequest(
        policy_name=policy, policy_document=READ_USERS,
        rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded")).body
    assert rotated.policy_version.version_id == "v6"
    versions = ram.list_policy_versions(m.ListPolicyVersionsRequest(
        policy_name=policy, policy_type="Custom")).body.policy_versions.policy_version
    ids = sorted(v.version_id for v in versions)
    assert ids == ["v2", "v3", "v4", "v5", "v6"]
    assert [v.version_id for v in versions if v.is_default_version] == ["v3"]
    code, status, _ = sdk_error(ram.delete_policy_version, m.DeletePolicyVersionRequest(
        policy_name=policy, version_id="v3"))
    assert (code, status) == ("DeleteConflict.Policy.Version.Default", 409)
    ram.set_default_policy_version(m.SetDefaultPolicyVersionRequest(policy_name=policy, version_id="v6"))
    ram.delete_policy_version(m.DeletePolicyVersionRequest(policy_name=policy, version_id="v3"))
    gv = ram.get_policy_version(m.GetPolicyVersionRequest(
        policy_name=policy, policy_type="Custom", version_id="v6")).body.policy_version
    assert gv.is_default_version is True

    ram.create_user(m.CreateUserRequest(user_name=user))
    ram.create_group(m.CreateGroupRequest(group_name=group))
    ram.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name=user, policy_type="Custom", policy_name=policy))
    ram.attach_policy_to_group(m.AttachPolicyToGroupRequest(
        group_name=group, policy_type="Custom", policy_name=policy))
    code, status, _ = sdk_error(ram.attach_policy_to_user, m.AttachPolicyToUserRequest(
        user_name=user, policy_type="Custom", policy_name=policy))
    assert (code, status) == ("EntityAlreadyExists.User.Policy", 409)
    for_user = ram.list_policies_for_user(m.ListPoliciesForUserRequest(user_name=user)).body
    assert [(x.policy_name, x.policy_type) for x in for_user.policies.policy] == [(policy, "Custom")]
    assert for_user.policies.policy[0].attach_date
    ents = ram.list_entities_for_policy(m.ListEntitiesForPolicyRequest(
        policy_name=policy, policy_type="Custom")).body
    assert [u.user_name for u in ents.users.user] == [user]
    assert [g.group_name for g in ents.groups.group] == [group]
    assert ents.roles.role == [] or ents.roles.role is None
    code, status, _ = sdk_error(ram.delete_policy, m.DeletePolicyRequest(policy_name=policy))
    assert (code, status) == ("DeleteConflict.Policy.User", 409)
    code, status, _ = sdk_error(ram.delete_user, m.DeleteUserRequest(user_name=user))
    assert (code, status) == ("DeleteConflict.User.Policy", 409)
    ram.detach_policy_from_user(m.DetachPolicyFromUserRequest(
        user_name=user, policy_type="Custom", policy_name=policy))
    ram.detach_policy_from_group(m.DetachPolicyFromGroupRequest(
        group_name=group, policy_type="Custom", policy_name=policy))
    code, status, _ = sdk_error(ram.detach_policy_from_user, m.DetachPolicyFromUserRequest(
        user_name=user, policy_type="Custom", policy_name=policy))
    assert (code, status) == ("EntityNotExist.User.Policy", 404)

    code, status, _ = sdk_error(ram.delete_policy, m.DeletePolicyRequest(policy_name=policy))
    assert (code, status) == ("DeleteConflict.Policy.Version", 409)
    ram.delete_policy(m.DeletePolicyRequest(policy_name=policy, cascading_delete=True))
    code, status, _ = sdk_error(ram.get_policy, m.GetPolicyRequest(policy_name=policy, policy_type="Custom"))
    assert (code, status) == ("EntityNotExist.Policy", 404)


def test_policy_errors_and_system_policies(ram, name):
    code, status, e = sdk_error(ram.create_policy, m.CreatePolicyRequest(
        policy_name=name("bad"), policy_document='{"Version":"1","Statement":[{"Effect":"Allow"}]}'))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "1:" in str(getattr(e, "message", e)), "the message locates the problem"
    code, status, _ = sdk_error(ram.get_policy, m.GetPolicyRequest(policy_name="AdministratorAccess",
                                                                   policy_type="Bogus"))
    assert (code, status) == ("InvalidParameter.PolicyType", 400)
    admin = ram.get_policy(m.GetPolicyRequest(policy_name="AdministratorAccess",
                                              policy_type="System")).body
    assert admin.policy.policy_type == "System"
    doc = json.loads(admin.default_policy_version.policy_document)
    assert doc["Statement"][0]["Action"] == "*"
    system = ram.list_policies(m.ListPoliciesRequest(policy_type="System", max_items=1000)).body
    names = {p.policy_name for p in system.policies.policy}
    assert {"AdministratorAccess", "ReadOnlyAccess", "AliyunRAMFullAccess",
            "AliyunRAMReadOnlyAccess", "AliyunSTSAssumeRoleAccess"} <= names
    # System policies cannot be changed.
    code, status, _ = sdk_error(ram.create_policy_version, m.CreatePolicyVersionRequest(
        policy_name="AdministratorAccess", policy_document=READ_USERS))
    assert (code, status) == ("EntityNotExist.Policy", 404)


# ---------------------------------------------------------------------------------------
# AccessKeys

def test_access_keys(ram, name):
    user = name("keys")
    ram.create_user(m.CreateUserRequest(user_name=user))
    k1 = ram.create_access_key(m.CreateAccessKeyRequest(user_name=user)).body.access_key
    assert k1.access_key_id.startswith("LTAI") and len(k1.access_key_id) == 24
    assert len(k1.access_key_secret) == 30 and k1.status == "Active"
    ram.create_access_key(m.CreateAccessKeyRequest(user_name=user))
    code, status, _ = sdk_error(ram.create_access_key, m.CreateAccessKeyRequest(user_name=user))
    assert (code, status) == ("LimitExceeded.User.AccessKey", 409)
    listed = ram.list_access_keys(m.ListAccessKeysRequest(user_name=user)).body.access_keys.access_key
    assert len(listed) == 2 and all(getattr(k, "access_key_secret", None) is None for k in listed)

    as_user = ram_client(Creds("", k1.access_key_id, k1.access_key_secret))
    code, status, _ = sdk_error(as_user.list_users, m.ListUsersRequest())
    assert (code, status) == ("NoPermission", 403)
    ram.update_access_key(m.UpdateAccessKeyRequest(
        user_name=user, user_access_key_id=k1.access_key_id, status="Inactive"))
    code, status, _ = sdk_error(as_user.list_users, m.ListUsersRequest())
    assert (code, status) == ("InvalidAccessKeyId.Inactive", 400)
    ram.delete_access_key(m.DeleteAccessKeyRequest(user_name=user, user_access_key_id=k1.access_key_id))
    code, status, _ = sdk_error(as_user.list_users, m.ListUsersRequest())
    assert (code, status) == ("InvalidAccessKeyId.NotFound", 404)
    last = ram.list_access_keys(m.ListAccessKeysRequest(user_name=user)).body.access_keys.access_key
    assert len(last) == 1


def test_wrong_secret_is_a_signature_mismatch(root):
    for version in ("v3", "v1"):
        bad = ram_client(Creds(root.account_id, root.key_id, "x" * 30), version)
        code, status, _ = sdk_error(bad.list_users, m.ListUsersRequest())
        assert (code, status) == ("SignatureDoesNotMatch", 400), version


# ---------------------------------------------------------------------------------------
# Authorization and isolation

def test_ram_user_denied_then_allowed(ram3, name):
    user = name("reader")
    ram3.create_user(m.CreateUserRequest(user_name=user))
    k = ram3.create_access_key(m.CreateAccessKeyRequest(user_name=user)).body.access_key
    as_user = ram_client(Creds("", k.access_key_id, k.access_key_secret))
    code, status, e = sdk_error(as_user.list_users, m.ListUsersRequest())
    assert (code, status) == ("NoPermission", 403)
    detail = getattr(e, "access_denied_detail", None) or e.data.get("AccessDeniedDetail")
    assert detail["AuthAction"] == "ram:ListUsers"
    assert detail["NoPermissionType"] == "ImplicitDeny"
    assert detail["AuthPrincipalType"] == "SubUser"
    ram3.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name=user, policy_type="System", policy_name="AliyunRAMReadOnlyAccess"))
    assert as_user.list_users(m.ListUsersRequest()).body.users.user
    code, status, _ = sdk_error(as_user.create_user, m.CreateUserRequest(user_name=name("no")))
    assert (code, status) == ("NoPermission", 403)
    decoded = ram3.decode_diagnostic_message(m.DecodeDiagnosticMessageRequest(
        encoded_diagnostic_message=detail["EncodedDiagnosticMessage"])).body.decoded_diagnostic_message
    assert decoded.auth_action == "ram:ListUsers" and decoded.explicit_deny is False


def test_second_account_is_isolated(ram3, name):
    user = name("mine")
    ram3.create_user(m.CreateUserRequest(user_name=user))
    other = ram_client(new_account(name("acct")))
    code, status, _ = sdk_error(other.get_user, m.GetUserRequest(user_name=user))
    assert (code, status) == ("EntityNotExist.User", 404)
    assert other.list_users(m.ListUsersRequest()).body.users.user == []
    # The same name is free in the other account.
    other.create_user(m.CreateUserRequest(user_name=user))


# ---------------------------------------------------------------------------------------
# Tags

def test_tags_on_roles_and_policies(ram, name):
    role, policy = name("trole"), name("tpol")
    ram.create_role(m.CreateRoleRequest(role_name=role, assume_role_policy_document=TRUST_ECS,
                                        tag=[m.CreateRoleRequestTag(key="env", value="dev")]))
    ram.create_policy(m.CreatePolicyRequest(policy_name=policy, policy_document=READ_USERS))
    ram.tag_resources(m.TagResourcesRequest(
        resource_type="policy", resource_names=[policy],
        tag=[m.TagResourcesRequestTag(key="team", value="a"), m.TagResourcesRequestTag(key="env", value="prod")]))
    rows = ram.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="policy", resource_names=[policy])).body.tag_resources
    assert sorted((r.tag_key, r.tag_value) for r in rows) == [("env", "prod"), ("team", "a")]
    role_rows = ram.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="role", resource_names=[role])).body.tag_resources
    assert [(r.resource_name, r.tag_key, r.tag_value) for r in role_rows] == [(role, "env", "dev")]
    ram.untag_resources(m.UntagResourcesRequest(resource_type="policy", resource_names=[policy],
                                                tag_keys=["team"]))
    rows = ram.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="policy", resource_names=[policy])).body.tag_resources
    assert [(r.tag_key, r.tag_value) for r in rows] == [("env", "prod")]
    ram.untag_resources(m.UntagResourcesRequest(resource_type="policy", resource_names=[policy], all=True))
    assert not ram.list_tag_resources(m.ListTagResourcesRequest(
        resource_type="policy", resource_names=[policy])).body.tag_resources
    code, status, _ = sdk_error(ram.tag_resources, m.TagResourcesRequest(
        resource_type="role", resource_names=[name("ghost")],
        tag=[m.TagResourcesRequestTag(key="k", value="v")]))
    assert (code, status) == ("EntityNotExist.Role", 404)
    listed = ram.list_roles(m.ListRolesRequest(max_items=1000)).body.roles.role
    mine = [r for r in listed if r.role_name == role][0]
    assert [(t.tag_key, t.tag_value) for t in mine.tags.tag] == [("env", "dev")]


# ---------------------------------------------------------------------------------------
# Login profile, password policy, security preference, alias, MFA

def totp(seed_b32, t):
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    o = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def test_people_settings(ram3, name):
    acct = new_account(name("people"))
    ram = ram_client(acct)
    user = name("person")
    ram.create_user(m.CreateUserRequest(user_name=user))

    pp = ram.get_password_policy().body.password_policy
    assert pp.minimum_password_length == 8 and pp.require_symbols is False
    pp = ram.set_password_policy(m.SetPasswordPolicyRequest(
        minimum_password_length=12, require_numbers=True, max_login_attemps=5)).body.password_policy
    assert (pp.minimum_password_length, pp.require_numbers, pp.max_login_attemps) == (12, True, 5)
    code, status, _ = sdk_error(ram.set_password_policy, m.SetPasswordPolicyRequest(minimum_password_length=4))
    assert (code, status) == ("InvalidParameter.MinimumPasswordLength.Range", 400)

    code, status, _ = sdk_error(ram.create_login_profile, m.CreateLoginProfileRequest(
        user_name=user, password="short1"))
    assert (code, status) == ("InvalidParameter.Password.TooWeak", 400)
    lp = ram.create_login_profile(m.CreateLoginProfileRequest(
        user_name=user, password="long-enough-pass-1", password_reset_required=True)).body.login_profile
    assert (lp.user_name, lp.password_reset_required, lp.mfabind_required) == (user, True, False)
    ram.update_login_profile(m.UpdateLoginProfileRequest(user_name=user, mfabind_required=True))
    lp = ram.get_login_profile(m.GetLoginProfileRequest(user_name=user)).body.login_profile
    assert lp.mfabind_required is True
    code, status, _ = sdk_error(ram.delete_user, m.DeleteUserRequest(user_name=user))
    assert (code, status) == ("DeleteConflict.User.LoginProfile", 409)

    sp = ram.get_security_preference().body.security_preference
    assert sp.login_profile_preference.allow_user_to_change_password is True
    assert sp.login_profile_preference.login_session_duration == 6
    sp = ram.set_security_preference(m.SetSecurityPreferenceRequest(
        allow_user_to_manage_access_keys=True, login_session_duration=12,
        login_network_masks="10.0.0.0/8;192.168.0.0/16")).body.security_preference
    assert sp.access_key_preference.allow_user_to_manage_access_keys is True
    assert sp.login_profile_preference.login_network_masks == "10.0.0.0/8;192.168.0.0/16"

    alias = ("a" + uuid.uuid4().hex[:10]).lower()
    ram.set_account_alias(m.SetAccountAliasRequest(account_alias=alias))
    assert ram.get_account_alias().body.account_alias == alias
    code, status, _ = sdk_error(ram3.set_account_alias, m.SetAccountAliasRequest(account_alias=alias))
    assert (code, status) == ("EntityAlreadyExists.AccountAlias", 409)
    code, status, _ = sdk_error(ram.set_account_alias, m.SetAccountAliasRequest(account_alias="-bad-"))
    assert (code, status) == ("InvalidParameter.AccountAlias.Format", 400)
    ram.clear_account_alias()
    assert ram.get_account_alias().body.account_alias == ""

    dev = ram.create_virtual_mfadevice(m.CreateVirtualMFADeviceRequest(
        virtual_mfadevice_name=name("mfa"))).body.virtual_mfadevice
    assert dev.serial_number.startswith(f"acs:ram::{acct.account_id}:mfa/")
    assert base64.b64decode(dev.qrcode_png)[:8] == b"\x89PNG\r\n\x1a\n"
    now = time.time()
    code, status, _ = sdk_error(ram.bind_mfadevice, m.BindMFADeviceRequest(
        user_name=user, serial_number=dev.serial_number, authentication_code_1="000000",
        authentication_code_2="000000"))
    assert (code, status) == ("CheckAuthenticationCodeFail", 403)
    ram.bind_mfadevice(m.BindMFADeviceRequest(
        user_name=user, serial_number=dev.serial_number,
        authentication_code_1=totp(dev.base_32string_seed, now - 30),
        authentication_code_2=totp(dev.base_32string_seed, now)))
    info = ram.get_user_mfainfo(m.GetUserMFAInfoRequest(user_name=user)).body.mfadevice
    assert info.serial_number == dev.serial_number
    devices = ram.list_virtual_mfadevices().body.virtual_mfadevices.virtual_mfadevice
    assert [(d.serial_number, d.user.user_name) for d in devices] == [(dev.serial_number, user)]
    code, status, _ = sdk_error(ram.delete_virtual_mfadevice, m.DeleteVirtualMFADeviceRequest(
        serial_number=dev.serial_number))
    assert (code, status) == ("DeleteConflict.VirtualMFADevice.User", 409)
    un = ram.unbind_mfadevice(m.UnbindMFADeviceRequest(user_name=user)).body.mfadevice
    assert un.serial_number == dev.serial_number
    ram.delete_virtual_mfadevice(m.DeleteVirtualMFADeviceRequest(serial_number=dev.serial_number))
    ram.delete_login_profile(m.DeleteLoginProfileRequest(user_name=user))
    ram.delete_user(m.DeleteUserRequest(user_name=user))


# ---------------------------------------------------------------------------------------
# The older SDK generation: aliyun-python-sdk-core + aliyun-python-sdk-ram (V1, GET)

def core_client(creds):
    from aliyunsdkcore.client import AcsClient
    return AcsClient(creds.key_id, creds.secret, "cn-hangzhou")


def core_do(client, request):
    request.set_endpoint(ENDPOINT)
    request.set_protocol_type("http")
    request.set_accept_format("json")
    return json.loads(client.do_action_with_exception(request))


def test_core_sdk_and_ram_request_classes(root, name):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkram.request.v20150501 import CreateUserRequest, GetUserRequest, ListUsersRequest

    client = core_client(root)
    user = name("core")
    req = CreateUserRequest.CreateUserRequest()
    req.set_UserName(user)
    req.set_DisplayName("Core SDK user with spaces")
    assert core_do(client, req)["User"]["UserName"] == user
    req = GetUserRequest.GetUserRequest()
    req.set_UserName(user)
    assert core_do(client, req)["User"]["DisplayName"] == "Core SDK user with spaces"
    assert core_do(client, ListUsersRequest.ListUsersRequest())["Users"]["User"]
    req = GetUserRequest.GetUserRequest()
    req.set_UserName(name("missing"))
    with pytest.raises(ServerException) as info:
        core_do(client, req)
    assert info.value.get_error_code() == "EntityNotExist.User"
    assert info.value.get_http_status() == 404


def test_core_common_request_unknown_action(root):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=ENDPOINT, version="2015-05-01", action_name="NoSuchAction")
    req.set_protocol_type("http")
    req.set_accept_format("json")
    with pytest.raises(ServerException) as info:
        core_client(root).do_action_with_exception(req)
    assert info.value.get_error_code() == "InvalidAction.NotFound"
    assert info.value.get_http_status() == 404


# ---------------------------------------------------------------------------------------
# Replay: a V1 request signed once (stdlib HMAC-SHA1, as the credentials library builds it)
# and sent twice.

def v1_url(creds, params):
    q = dict(params)
    q.update({
        "Format": "JSON", "Version": "2015-05-01", "AccessKeyId": creds.key_id,
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(q.items()))
    sts = "GET&%2F&" + enc(canonical)
    sig = base64.b64encode(hmac.new((creds.secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    q["Signature"] = sig
    return f"http://{ENDPOINT}/?{urllib.parse.urlencode(q)}"


def fetch(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_replayed_nonce_is_refused(root):
    url = v1_url(root, {"Action": "ListUsers", "MaxItems": "1"})
    status, body = fetch(url)
    assert status == 200, body
    status, body = fetch(url)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert body["RequestId"] and body["HostId"] == "ram.aliyuncs.com" and body["Recommend"]
