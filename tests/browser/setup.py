"""Sets up the browser tests' people through the official RAM and IMS SDKs; prints JSON.

    python setup.py HOST:PORT BOOTSTRAP.json users   # alice, bob (MFA bound), carol, dave,
                                                     # erin, frank (no policy), grace (RAM admin)
    python setup.py HOST:PORT BOOTSTRAP.json saml    # a SAML provider, two roles, and responses
                                                     # signed by signxml (tests/interop/saml_idp.py)
    python setup.py HOST:PORT BOOTSTRAP.json mask    # LoginNetworkMasks = 10.0.0.0/8
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time

from alibabacloud_ram20150501 import models as m
from alibabacloud_ram20150501.client import Client
from alibabacloud_tea_openapi.models import Config

endpoint, bootstrap, command = sys.argv[1], sys.argv[2], sys.argv[3]
with open(bootstrap) as f:
    b = json.load(f)
ram = Client(Config(access_key_id=b["AccessKeyId"], access_key_secret=b["AccessKeySecret"],
                    endpoint=endpoint, protocol="http"))
PASSWORD = "Browser-Pass-1"


def totp(seed_b32, at):
    """RFC 6238, SHA-1, 6 digits, 30 s: computed here, not by Rampart."""
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


if command == "users":
    people = [("alice", True), ("bob", False), ("carol", False), ("dave", False),
              ("erin", False), ("frank", False), ("grace", False)]
    for name, reset in people:
        ram.create_user(m.CreateUserRequest(user_name=name))
        ram.create_login_profile(m.CreateLoginProfileRequest(
            user_name=name, password=PASSWORD, password_reset_required=reset))
    ram.attach_policy_to_user(m.AttachPolicyToUserRequest(
        policy_type="System", policy_name="AliyunRAMFullAccess", user_name="grace"))
    ram.set_password_policy(m.SetPasswordPolicyRequest(max_login_attemps=3))
    device = ram.create_virtual_mfadevice(
        m.CreateVirtualMFADeviceRequest(virtual_mfadevice_name="bob-phone")).body.virtual_mfadevice
    now = time.time()
    ram.bind_mfadevice(m.BindMFADeviceRequest(
        user_name="bob", serial_number=device.serial_number,
        authentication_code_1=totp(device.base_32string_seed, now - 30),
        authentication_code_2=totp(device.base_32string_seed, now)))
    print(json.dumps({"account": b["AccountId"], "password": PASSWORD,
                      "bobSeed": device.base_32string_seed}))
elif command == "saml":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))
    from alibabacloud_ims20190815 import models as im
    from alibabacloud_ims20190815.client import Client as ImsClient
    from saml_idp import SamlIdp

    account = b["AccountId"]
    acs = "http://%s/saml-role/sso" % endpoint
    idp = SamlIdp("https://idp.browser.test/metadata")
    ims = ImsClient(Config(access_key_id=b["AccessKeyId"], access_key_secret=b["AccessKeySecret"],
                           endpoint=endpoint, protocol="http"))
    ims.create_samlprovider(im.CreateSAMLProviderRequest(
        samlprovider_name="corp-idp",
        encoded_samlmetadata_document=base64.b64encode(idp.metadata_xml().encode()).decode()))
    provider = "acs:ram::%s:saml-provider/corp-idp" % account
    trust = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Federated": [provider]},
        "Condition": {"StringEquals": {"saml:recipient": acs}}}]})
    roles = {}
    for role, policy in [("sso-viewer", "ReadOnlyAccess"), ("sso-admin", "AliyunRAMFullAccess")]:
        roles[role] = ram.create_role(m.CreateRoleRequest(
            role_name=role, assume_role_policy_document=trust)).body.role.arn
        ram.attach_policy_to_role(m.AttachPolicyToRoleRequest(
            policy_type="System", policy_name=policy, role_name=role))
    pairs = [(roles["sso-viewer"], provider), (roles["sso-admin"], provider)]
    expiry = time.time() + 300
    both = idp.response(pairs, "ann@corp.example", recipient=acs,
                        audience="urn:alibaba:cloudcomputing:international",
                        not_on_or_after=expiry)
    # The same kind of response, altered after signing: the role list names a role of its own.
    forged = base64.b64decode(idp.response(
        pairs[:1], "ann@corp.example", recipient=acs,
        audience="urn:alibaba:cloudcomputing:international", not_on_or_after=expiry))
    forged = forged.replace(b"sso-viewer", b"sso-admin")
    print(json.dumps({"acs": acs, "response": both, "roles": roles,
                      "forged": base64.b64encode(forged).decode()}))
elif command == "mask":
    ram.set_security_preference(m.SetSecurityPreferenceRequest(login_network_masks="10.0.0.0/8"))
    print(json.dumps({"mask": "10.0.0.0/8"}))
