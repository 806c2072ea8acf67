"""IMS 2019-08-15's "people" actions through the official alibabacloud_ims20190815 SDK (V3 and
V1 signatures): login profiles by UserPrincipalName, ChangePassword, the password policy and
security preference (the same documents RAM 2015-05-01 reads and writes), the default domain,
virtual MFA with TOTP codes computed here (RFC 6238), AccessKeys, and Alibaba-style errors.

Each test works in an account of its own, since these settings are account-wide."""

import base64
import hashlib
import hmac
import struct
import time

import pytest
from alibabacloud_ims20190815 import models as im
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_ram20150501 import models as rm
from alibabacloud_tea_openapi.models import Config

from conftest import ENDPOINT, Creds, new_account, ram_client, sdk_error


def ims_client(creds, version):
    kwargs = dict(
        access_key_id=creds.key_id,
        access_key_secret=creds.secret,
        endpoint=ENDPOINT,
        protocol="http",
        read_timeout=30000,
        connect_timeout=5000,
    )
    if version == "v1":
        kwargs["signature_algorithm"] = "v2"
    return ImsClient(Config(**kwargs))


def totp(seed_b32, at):
    """RFC 6238: HMAC-SHA1 over the 30 s step, dynamic truncation, 6 digits."""
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


@pytest.fixture(params=["v3", "v1"])
def version(request):
    return request.param


@pytest.fixture
def acct(name):
    """A fresh account's root credentials."""
    return new_account(name("imsp"))


@pytest.fixture
def ims(acct, version):
    return ims_client(acct, version)


@pytest.fixture
def ram(acct, version):
    return ram_client(acct, version)


def upn(acct, user):
    return f"{user}@{acct.account_id}.onaliyun.com"


def user_with_key(ram, acct, user):
    ram.create_user(rm.CreateUserRequest(user_name=user))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name=user)).body.access_key
    return Creds(acct.account_id, key.access_key_id, key.access_key_secret)


def test_password_policy_shared_with_ram(ims, ram):
    p = ims.get_password_policy().body.password_policy
    assert (p.minimum_password_length, p.initial_password_age, p.hard_expire) == (8, 14, False)
    assert p.minimum_password_different_character == 0
    assert p.password_not_contain_user_name is False
    assert p.intercept_risk_password_on_api is False

    ram.set_password_policy(rm.SetPasswordPolicyRequest(
        hard_expiry=True, minimum_password_length=12, max_login_attemps=5))
    p = ims.get_password_policy().body.password_policy
    assert (p.hard_expire, p.minimum_password_length, p.max_login_attemps) == (True, 12, 5)

    p = ims.set_password_policy(im.SetPasswordPolicyRequest(
        hard_expire=False, initial_password_age=30, password_not_contain_user_name=True,
        minimum_password_different_character=4, require_symbols=True, max_password_age=90,
        password_reuse_prevention=3, intercept_risk_password_on_api=True)).body.password_policy
    assert p.hard_expire is False
    assert (p.initial_password_age, p.minimum_password_different_character) == (30, 4)
    assert (p.password_not_contain_user_name, p.require_symbols) == (True, True)
    assert (p.max_password_age, p.password_reuse_prevention) == (90, 3)
    assert p.intercept_risk_password_on_api is True
    assert p.minimum_password_length == 12, "a partial update"
    r = ram.get_password_policy().body.password_policy
    assert (r.hard_expiry, r.require_symbols, r.max_password_age) == (False, True, 90)

    for bad in [dict(initial_password_age=91), dict(minimum_password_different_character=9),
                dict(max_login_attemps=33)]:
        code, status, _ = sdk_error(ims.set_password_policy, im.SetPasswordPolicyRequest(**bad))
        assert status == 400 and code.startswith("InvalidParameter."), (bad, code)


def test_security_preference_shared_with_ram(ims, ram):
    p = ims.get_security_preference().body.security_preference
    assert p.login_profile_preference.mfaoperation_for_login == "independent"
    assert p.login_profile_preference.allow_user_to_change_password is True
    assert p.login_profile_preference.allow_user_to_login_with_passkey is True
    assert p.login_profile_preference.login_session_duration == 6
    assert p.access_key_preference.allow_user_to_manage_access_keys is False
    assert p.mfapreference.allow_user_to_manage_mfadevices is True
    assert p.max_idle_days.max_idle_days_for_users == 730
    assert p.personal_info_preference.allow_user_to_manage_personal_ding_talk is True
    assert p.verification_preference.verification_types == []

    ram.set_security_preference(rm.SetSecurityPreferenceRequest(
        allow_user_to_manage_access_keys=True, login_session_duration=4))
    p = ims.get_security_preference().body.security_preference
    assert p.access_key_preference.allow_user_to_manage_access_keys is True
    assert p.login_profile_preference.login_session_duration == 4

    p = ims.set_security_preference(im.SetSecurityPreferenceRequest(
        mfaoperation_for_login="mandatory", max_idle_days_for_access_keys=180,
        max_idle_days_for_users=90, verification_types=["sms", "email"],
        allow_user_to_manage_mfadevices=False, enable_save_mfaticket=True,
        login_network_masks="10.0.0.0/8;192.168.0.0/16",
        allow_user_to_manage_service_credentials=True)).body.security_preference
    lp = p.login_profile_preference
    assert (lp.mfaoperation_for_login, lp.enable_save_mfaticket) == ("mandatory", True)
    assert lp.login_network_masks == "10.0.0.0/8;192.168.0.0/16"
    assert (p.max_idle_days.max_idle_days_for_access_keys,
            p.max_idle_days.max_idle_days_for_users) == (180, 90)
    assert p.verification_preference.verification_types == ["sms", "email"]
    assert p.access_key_preference.allow_user_to_manage_service_credentials is True
    r = ram.get_security_preference().body.security_preference
    assert r.mfapreference.allow_user_to_manage_mfadevices is False
    assert r.login_profile_preference.enable_save_mfaticket is True

    for bad, code in [
        (dict(mfaoperation_for_login="always"), "InvalidParameter.MFAOperationForLogin"),
        (dict(max_idle_days_for_users=100), "InvalidParameter.MaxIdleDaysForUsers"),
        (dict(login_session_duration=25), "InvalidParameter.LoginSessionDuration"),
        (dict(login_network_masks="not-a-cidr"), "InvalidParameter.LoginNetworkMasks"),
    ]:
        got, status, _ = sdk_error(ims.set_security_preference,
                                   im.SetSecurityPreferenceRequest(**bad))
        assert (got, status) == (code, 400), bad


def test_default_domain_is_the_account_alias(ims, ram, acct, name):
    domain = f"{acct.account_id}.onaliyun.com"
    assert ims.get_default_domain().body.default_domain_name == domain
    alias = name("dom").lower()[:32].rstrip("-")
    got = ims.set_default_domain(im.SetDefaultDomainRequest(
        default_domain_name=f"{alias}.onaliyun.com")).body
    assert got.default_domain_name == f"{alias}.onaliyun.com"
    assert ims.get_default_domain().body.default_domain_name == f"{alias}.onaliyun.com"
    assert ram.get_account_alias().body.account_alias == alias

    ram.create_user(rm.CreateUserRequest(user_name="dora"))
    ims.create_login_profile(im.CreateLoginProfileRequest(
        user_principal_name=f"dora@{alias}.onaliyun.com", password="Dora-Pass-1"))
    code, status, _ = sdk_error(ims.get_login_profile,
                                im.GetLoginProfileRequest(user_principal_name=f"dora@{domain}"))
    assert (code, status) == ("InvalidParameter.UserPrincipalName.Domain", 400)

    code, status, _ = sdk_error(ims.set_default_domain, im.SetDefaultDomainRequest(
        default_domain_name="example.com"))
    assert (code, status) == ("InvalidParameter.DefaultDomainName.Format", 400)
    ims.set_default_domain(im.SetDefaultDomainRequest(default_domain_name=domain))
    assert ims.get_default_domain().body.default_domain_name == domain


def test_login_profiles_by_upn(ims, ram, acct):
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    me = upn(acct, "alice")
    p = ims.create_login_profile(im.CreateLoginProfileRequest(
        user_principal_name=me, password="Alice-Pass-1", mfabind_required=True,
        status="Inactive")).body.login_profile
    assert p.user_principal_name == me
    assert (p.status, p.password_status) == ("Inactive", "InitialValid")
    assert (p.mfabind_required, p.password_reset_required) == (True, False)
    assert p.update_date.endswith("Z")

    r = ram.get_login_profile(rm.GetLoginProfileRequest(user_name="alice")).body.login_profile
    assert (r.user_name, r.mfabind_required) == ("alice", True)

    got = ims.get_login_profile(im.GetLoginProfileRequest(user_principal_name=me)).body
    assert got.login_profile.to_map() | {"UpdateDate": None} == p.to_map() | {"UpdateDate": None}

    p = ims.update_login_profile(im.UpdateLoginProfileRequest(
        user_principal_name=me, status="Active", password_reset_required=True,
        password="Alice-Pass-2")).body.login_profile
    assert (p.status, p.password_reset_required, p.password_status) == (
        "Active", True, "InitialValid")
    ram.update_login_profile(rm.UpdateLoginProfileRequest(
        user_name="alice", mfabind_required=False))
    p = ims.get_login_profile(im.GetLoginProfileRequest(user_principal_name=me)).body
    assert p.login_profile.mfabind_required is False

    code, status, _ = sdk_error(ims.create_login_profile, im.CreateLoginProfileRequest(
        user_principal_name=me, password="Alice-Pass-3"))
    assert (code, status) == ("EntityAlreadyExists.User.LoginProfile", 409)
    ims.delete_login_profile(im.DeleteLoginProfileRequest(user_principal_name=me))
    code, status, _ = sdk_error(ram.get_login_profile,
                                rm.GetLoginProfileRequest(user_name="alice"))
    assert (code, status) == ("EntityNotExist.User.LoginProfile", 404)

    for bad, expected in [
        ("alice@elsewhere.onaliyun.com", ("InvalidParameter.UserPrincipalName.Domain", 400)),
        ("alice", ("InvalidParameter.UserPrincipalName.Format", 400)),
        (upn(acct, "ghost"), ("EntityNotExist.User", 404)),
    ]:
        code, status, _ = sdk_error(ims.get_login_profile,
                                    im.GetLoginProfileRequest(user_principal_name=bad))
        assert (code, status) == expected, bad
    code, status, _ = sdk_error(ims.create_login_profile, im.CreateLoginProfileRequest(
        user_principal_name=me, password="short"))
    assert (code, status) == ("InvalidParameter.Password.TooWeak", 400)
    code, status, _ = sdk_error(ims.create_login_profile, im.CreateLoginProfileRequest(
        user_principal_name=me, password="Alice-Pass-9", status="Paused"))
    assert (code, status) == ("InvalidParameter.Status", 400)


def test_change_password_and_self_service(ims, ram, acct, version):
    alice = ims_client(user_with_key(ram, acct, "alice"), version)
    ram.create_user(rm.CreateUserRequest(user_name="bob"))
    me, bob = upn(acct, "alice"), upn(acct, "bob")
    ims.create_login_profile(im.CreateLoginProfileRequest(
        user_principal_name=me, password="Alice-Pass-1"))

    alice.change_password(im.ChangePasswordRequest(
        old_password="Alice-Pass-1", new_password="Alice-Pass-2"))
    p = ims.get_login_profile(im.GetLoginProfileRequest(user_principal_name=me)).body
    assert p.login_profile.password_status == "NotInitial"
    code, status, _ = sdk_error(alice.change_password, im.ChangePasswordRequest(
        old_password="wrong-Pass-0", new_password="Alice-Pass-3"))
    assert (code, status) == ("InvalidParameter.OldPassword", 400)
    code, status, _ = sdk_error(alice.change_password, im.ChangePasswordRequest(
        old_password="Alice-Pass-2", new_password="Alice-Pass-2"))
    assert (code, status) == ("InvalidParameter.Password.Reused", 400)
    ims.set_security_preference(im.SetSecurityPreferenceRequest(
        allow_user_to_change_password=False))
    code, status, _ = sdk_error(alice.change_password, im.ChangePasswordRequest(
        old_password="Alice-Pass-2", new_password="Alice-Pass-3"))
    assert (code, status) == ("NoPermission", 403)

    # No policy: nothing about others, nor account settings.
    for call, req in [
        (alice.get_login_profile, im.GetLoginProfileRequest(user_principal_name=bob)),
        (alice.list_access_keys, im.ListAccessKeysRequest(user_principal_name=bob)),
        (alice.get_user_mfainfo, im.GetUserMFAInfoRequest(user_principal_name=bob)),
        (alice.list_virtual_mfadevices, im.ListVirtualMFADevicesRequest()),
    ]:
        code, status, _ = sdk_error(call, req)
        assert (code, status) == ("NoPermission", 403), call
    code, status, _ = sdk_error(alice.get_password_policy)
    assert (code, status) == ("NoPermission", 403)

    # Her own keys: by the security preference (off by default).
    code, status, _ = sdk_error(alice.list_access_keys, im.ListAccessKeysRequest())
    assert (code, status) == ("NoPermission", 403)
    ims.set_security_preference(im.SetSecurityPreferenceRequest(
        allow_user_to_manage_access_keys=True))
    keys = alice.list_access_keys(im.ListAccessKeysRequest()).body.access_keys.access_key
    assert len(keys) == 1 and keys[0].status == "Active"
    new = alice.create_access_key(im.CreateAccessKeyRequest()).body.access_key
    alice.update_access_key(im.UpdateAccessKeyRequest(
        user_access_key_id=new.access_key_id, status="Inactive", user_principal_name=me))
    used = alice.get_access_key_last_used(im.GetAccessKeyLastUsedRequest(
        user_access_key_id=keys[0].access_key_id)).body.access_key_last_used
    assert used.last_used_date.endswith("Z"), "her key signed these calls"
    alice.delete_access_key(im.DeleteAccessKeyRequest(user_access_key_id=new.access_key_id))
    code, status, _ = sdk_error(alice.create_access_key,
                                im.CreateAccessKeyRequest(user_principal_name=bob))
    assert (code, status) == ("NoPermission", 403)

    # Her own MFA: allowed by default, an empty UPN meaning herself.
    info = alice.get_user_mfainfo(im.GetUserMFAInfoRequest()).body
    assert info.is_mfaenable is False and info.mfadevice is None


def test_virtual_mfa_devices(ims, ram, acct):
    ram.create_user(rm.CreateUserRequest(user_name="alice", display_name="Alice A."))
    me = upn(acct, "alice")
    devices = {}
    for n in ["phone-b", "phone-a", "phone-c"]:
        d = ims.create_virtual_mfadevice(im.CreateVirtualMFADeviceRequest(
            virtual_mfadevice_name=n)).body.virtual_mfadevice
        assert d.serial_number == f"acs:ram::{acct.account_id}:mfa/{n}"
        assert base64.b64decode(d.qrcode_png)[:4] == b"\x89PNG"
        devices[n] = d
    serial, seed = devices["phone-a"].serial_number, devices["phone-a"].base_32string_seed

    now = time.time()
    code, status, _ = sdk_error(ims.bind_mfadevice, im.BindMFADeviceRequest(
        user_principal_name=me, serial_number=serial,
        authentication_code_1="000000", authentication_code_2="000000"))
    assert (code, status) == ("CheckAuthenticationCodeFail", 403)
    ims.bind_mfadevice(im.BindMFADeviceRequest(
        user_principal_name=me, serial_number=serial,
        authentication_code_1=totp(seed, now - 30), authentication_code_2=totp(seed, now)))

    info = ims.get_user_mfainfo(im.GetUserMFAInfoRequest(user_principal_name=me)).body
    assert info.is_mfaenable is True
    assert (info.mfadevice.serial_number, info.mfadevice.type) == (serial, "VMFA")
    r = ram.get_user_mfainfo(rm.GetUserMFAInfoRequest(user_name="alice")).body
    assert r.mfadevice.serial_number == serial

    listed, marker = [], None
    while True:
        page = ims.list_virtual_mfadevices(im.ListVirtualMFADevicesRequest(
            max_items=2, marker=marker)).body
        listed += page.virtual_mfadevices.virtual_mfadevice
        if not page.is_truncated:
            break
        marker = page.marker
    assert [d.serial_number.rsplit("/", 1)[1] for d in listed] == [
        "phone-a", "phone-b", "phone-c"]
    bound = listed[0]
    assert bound.activate_date.endswith("Z")
    assert (bound.user.user_principal_name, bound.user.display_name) == (me, "Alice A.")
    assert bound.user.user_id
    assert listed[1].user is None and listed[1].activate_date is None

    code, status, _ = sdk_error(ims.delete_virtual_mfadevice,
                                im.DeleteVirtualMFADeviceRequest(serial_number=serial))
    assert (code, status) == ("DeleteConflict.VirtualMFADevice.User", 409)
    out = ims.unbind_mfadevice(im.UnbindMFADeviceRequest(user_principal_name=me)).body
    assert out.mfadevice.serial_number == serial
    ims.delete_virtual_mfadevice(im.DeleteVirtualMFADeviceRequest(serial_number=serial))
    info = ims.get_user_mfainfo(im.GetUserMFAInfoRequest(user_principal_name=me)).body
    assert info.is_mfaenable is False
    code, status, _ = sdk_error(ims.unbind_mfadevice,
                                im.UnbindMFADeviceRequest(user_principal_name=me))
    assert (code, status) == ("EntityNotExist.User.MFADevice", 404)
    code, status, _ = sdk_error(ims.get_user_mfainfo, im.GetUserMFAInfoRequest())
    assert (code, status) == ("MissingParameter", 400), "the root identity has no user MFA"


def test_access_keys_by_upn(ims, ram, acct):
    ram.create_user(rm.CreateUserRequest(user_name="carol"))
    me = upn(acct, "carol")
    key = ims.create_access_key(im.CreateAccessKeyRequest(user_principal_name=me)).body
    k = key.access_key
    assert k.access_key_id.startswith("LTAI") and len(k.access_key_secret) == 30
    assert (k.status, k.create_date.endswith("Z")) == ("Active", True)

    ims.update_access_key(im.UpdateAccessKeyRequest(
        user_principal_name=me, user_access_key_id=k.access_key_id, status="Inactive"))
    listed = ims.list_access_keys(im.ListAccessKeysRequest(
        user_principal_name=me)).body.access_keys.access_key
    assert [(x.access_key_id, x.status) for x in listed] == [(k.access_key_id, "Inactive")]
    assert listed[0].update_date.endswith("Z")
    r = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="carol")).body
    assert r.access_keys.access_key[0].status == "Inactive"

    used = ims.get_access_key_last_used(im.GetAccessKeyLastUsedRequest(
        user_principal_name=me, user_access_key_id=k.access_key_id)).body
    assert used.access_key_last_used.last_used_date == ""

    # An empty UPN: the root identity's own keys.
    mine = ims.list_access_keys(im.ListAccessKeysRequest()).body.access_keys.access_key
    assert [x.access_key_id for x in mine] == [acct.key_id]
    code, status, _ = sdk_error(ims.delete_access_key, im.DeleteAccessKeyRequest(
        user_access_key_id=k.access_key_id))
    assert (code, status) == ("EntityNotExist.User.AccessKey", 404)
    code, status, _ = sdk_error(ims.update_access_key, im.UpdateAccessKeyRequest(
        user_principal_name=me, user_access_key_id=k.access_key_id, status="Paused"))
    assert (code, status) == ("InvalidParameter.Status", 400)
    code, status, _ = sdk_error(ims.list_access_keys, im.ListAccessKeysRequest(
        user_principal_name="carol@elsewhere.onaliyun.com"))
    assert (code, status) == ("InvalidParameter.UserPrincipalName.Domain", 400)
    ims.delete_access_key(im.DeleteAccessKeyRequest(
        user_principal_name=me, user_access_key_id=k.access_key_id))
    assert ims.list_access_keys(im.ListAccessKeysRequest(
        user_principal_name=me)).body.access_keys.access_key == []
