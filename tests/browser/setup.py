"""Sets up the browser tests' people through the official RAM SDK; prints JSON.

    python setup.py HOST:PORT BOOTSTRAP.json users   # alice, bob (MFA bound), carol, dave
    python setup.py HOST:PORT BOOTSTRAP.json mask    # LoginNetworkMasks = 10.0.0.0/8
"""

import base64
import hashlib
import hmac
import json
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
    for name, reset in [("alice", True), ("bob", False), ("carol", False), ("dave", False)]:
        ram.create_user(m.CreateUserRequest(user_name=name))
        ram.create_login_profile(m.CreateLoginProfileRequest(
            user_name=name, password=PASSWORD, password_reset_required=reset))
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
elif command == "mask":
    ram.set_security_preference(m.SetSecurityPreferenceRequest(login_network_masks="10.0.0.0/8"))
    print(json.dumps({"mask": "10.0.0.0/8"}))
