"""Sets up the server benchmark's principals through the official SDKs: a RAM user `bench` with
ten attached custom policies (the tenth grants ram:GetUser and sts:AssumeRole) and an AccessKey,
printed as JSON; a role `bench-role` trusting the account; and, when a third argument is given,
STS credentials of that role (by AssumeRole as `bench`) written to that file."""

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
        statements.append({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "acs:ram:*:*:role/bench-role"})
    c.create_policy(m.CreatePolicyRequest(
        policy_name=f"bench-{i}", policy_document=json.dumps({"Version": "1", "Statement": statements})))
    c.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name="bench", policy_type="Custom", policy_name=f"bench-{i}"))
k = c.create_access_key(m.CreateAccessKeyRequest(user_name="bench")).body.access_key
trust = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                        "Principal": {"RAM": [f"acs:ram::{b['AccountId']}:root"]}}]}
c.create_role(m.CreateRoleRequest(role_name="bench-role", assume_role_policy_document=json.dumps(trust),
                                  max_session_duration=43200))
c.attach_policy_to_role(m.AttachPolicyToRoleRequest(
    role_name="bench-role", policy_type="System", policy_name="AliyunRAMReadOnlyAccess"))
print(json.dumps({"AccessKeyId": k.access_key_id, "AccessKeySecret": k.access_key_secret,
                  "RoleArn": f"acs:ram::{b['AccountId']}:role/bench-role"}))
if len(sys.argv) > 3:
    from alibabacloud_sts20150401 import models as sm
    from alibabacloud_sts20150401.client import Client as Sts
    sts = Sts(Config(access_key_id=k.access_key_id, access_key_secret=k.access_key_secret,
                     endpoint=endpoint, protocol="http"))
    cr = sts.assume_role(sm.AssumeRoleRequest(role_arn=f"acs:ram::{b['AccountId']}:role/bench-role",
                                              role_session_name="bench", duration_seconds=43200)).body.credentials
    with open(sys.argv[3], "w") as f:
        json.dump({"AccessKeyId": cr.access_key_id, "AccessKeySecret": cr.access_key_secret,
                   "SecurityToken": cr.security_token}, f)
