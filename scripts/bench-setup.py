"""Sets up the server benchmark's principal through the official SDK: a RAM user `bench` with
ten attached custom policies (the tenth grants ram:GetUser) and an AccessKey, printed as JSON."""

import json
import sys

from alibabacloud_ram20150501 import models as m
from alibabacloud_ram20150501.client import Client
from alibabacloud_tea_openapi.models import Config

endpoint, bootstrap = sys.argv[1], sys.argv[2]
with open(bootstrap) as f:
    b = json.load(f)
c = Client(Config(access_key_id=b["AccessKeyId"], access_key_secret=b["AccessKeySecret"],
                  endpoint=endpoint, protocol="http"))
c.create_user(m.CreateUserRequest(user_name="bench"))
for i in range(10):
    # Nine policies about other services and resources, each with a few statements and a
    # condition, so the evaluator has real work; the last one allows the benchmarked call.
    statements = [
        {"Effect": "Allow", "Action": [f"ecs:Describe{i}*", f"oss:Get{i}*"],
         "Resource": f"acs:ecs:*:*:instance/i-{i}*"},
        {"Effect": "Deny", "Action": "ram:DeleteUser", "Resource": f"acs:ram:*:*:user/admin{i}",
         "Condition": {"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}},
        {"Effect": "Allow", "Action": f"vpc:Describe{i}*", "Resource": "*",
         "Condition": {"Bool": {"acs:SecureTransport": "true"}}},
    ]
    if i == 9:
        statements.append({"Effect": "Allow", "Action": "ram:GetUser", "Resource": "acs:ram:*:*:user/*"})
    c.create_policy(m.CreatePolicyRequest(
        policy_name=f"bench-{i}", policy_document=json.dumps({"Version": "1", "Statement": statements})))
    c.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name="bench", policy_type="Custom", policy_name=f"bench-{i}"))
k = c.create_access_key(m.CreateAccessKeyRequest(user_name="bench")).body.access_key
print(json.dumps({"AccessKeyId": k.access_key_id, "AccessKeySecret": k.access_key_secret}))
