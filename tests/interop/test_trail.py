"""ActionTrail 2020-07-06 `LookupEvents` through the official SDK, alibabacloud_actiontrail20200706
(V3 and V1 signatures), reading the trail Rampart writes for every call: event shape, secrets
masked, refused calls recorded, permission to read the trail, paging, filters and bad input."""

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_actiontrail20200706 import models as t
from alibabacloud_actiontrail20200706.client import Client as TrailClient
from alibabacloud_ram20150501 import models as m
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.models import Config

from conftest import ENDPOINT, Creds, new_account, ram_client, sdk_error

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def config(creds, version):
    """The same settings the RAM client gets in conftest.ram_client."""
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
    return Config(**kwargs)


def trail_client(creds, version="v3"):
    return TrailClient(config(creds, version))


@pytest.fixture(params=["v3", "v1"])
def trail(request, root):
    """The ActionTrail client of the management account's root, once per signature version."""
    return trail_client(root, request.param)


def since(seconds=120):
    """A StartTime a little in the past: times are whole seconds, UTC."""
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def lookup(client, *attributes, **kwargs):
    """LookupEvents with (Key, Value) attributes; StartTime defaults to a little in the past."""
    kwargs.setdefault("start_time", since())
    request = t.LookupEventsRequest(
        lookup_attribute=[t.LookupEventsRequestLookupAttribute(key=k, value=v) for k, v in attributes],
        **kwargs)
    return client.lookup_events(request).body


def all_pages(client, *attributes, max_results="2"):
    """Every page, following NextToken; returns (pages of events, NextTokens seen)."""
    start = since()
    pages, tokens, token = [], [], None
    while True:
        body = lookup(client, *attributes, start_time=start, max_results=max_results, next_token=token)
        assert isinstance(body.events, list)
        pages.append(body.events)
        if not body.next_token:
            return pages, tokens
        assert body.next_token not in tokens
        tokens.append(body.next_token)
        token = body.next_token
        assert len(pages) < 100, "NextToken never ran out"


def text_of(body):
    """The response as text: what a reader of the trail sees."""
    return json.dumps(body.to_map(), ensure_ascii=False)


def session_ram_client(creds):
    """A RAM client on STS session credentials."""
    cfg = config(Creds("", creds.access_key_id, creds.access_key_secret), "v3")
    cfg.security_token = creds.security_token
    return RamClient(cfg)


def user_with_key(ram, name, prefix):
    user = name(prefix)
    u = ram.create_user(m.CreateUserRequest(user_name=user)).body.user
    k = ram.create_access_key(m.CreateAccessKeyRequest(user_name=user)).body.access_key
    return user, u.user_id, Creds("", k.access_key_id, k.access_key_secret)


# ---------------------------------------------------------------------------------------
# The event of a call, as ActionTrail shapes it

def test_create_user_event(trail, ram3, root, name):
    start = since()
    user = name("trail")
    created = ram3.create_user(m.CreateUserRequest(user_name=user, display_name="Trail Test"))
    request_id = created.body.request_id

    body = lookup(trail, ("EventName", "CreateUser"), start_time=start, max_results="50")
    assert body.start_time == start
    assert TIME.fullmatch(body.end_time) and body.end_time >= start
    assert len(body.request_id) == 36
    assert body.events and all(e["eventName"] == "CreateUser" for e in body.events)
    # Newest first: no CreateUser has been made in this account since this one.
    ev = body.events[0]
    assert ev["requestId"] == request_id
    assert UUID.fullmatch(ev["eventId"])
    assert ev["eventName"] == "CreateUser"
    assert ev["serviceName"] == "Ram"
    assert ev["eventRW"] == "Write"
    assert ev["eventType"] == "ApiCall"
    assert ev["eventSource"] == "ram.aliyuncs.com"
    assert ev["apiVersion"] == "2015-05-01"
    assert ev["recipientAccountId"] == root.account_id
    assert TIME.fullmatch(ev["eventTime"]) and start <= ev["eventTime"] <= body.end_time
    assert ev["sourceIpAddress"] == "127.0.0.1"
    assert ev["userAgent"]
    ui = ev["userIdentity"]
    assert ui["type"] == "root-account"
    assert ui["accountId"] == root.account_id and ui["principalId"] == root.account_id
    assert ui["accessKeyId"] == root.key_id
    assert user in ev["referencedResources"]["ACS::RAM::User"]
    assert ev["requestParameters"]["UserName"] == user
    assert ev["requestParameters"]["DisplayName"] == "Trail Test"
    assert "Action" not in ev["requestParameters"] and "Version" not in ev["requestParameters"]
    assert "errorCode" not in ev and "errorMessage" not in ev

    # Two attributes narrow it to that one event; EventId and ResourceName find it alone.
    both = lookup(trail, ("EventName", "CreateUser"), ("ResourceName", user), start_time=start)
    assert [e["eventId"] for e in both.events] == [ev["eventId"]]
    by_id = lookup(trail, ("EventId", ev["eventId"]), start_time=start)
    assert by_id.events == [ev]
    by_type = lookup(trail, ("ResourceType", "ACS::RAM::User"), ("ResourceName", user),
                     start_time=start)
    assert [e["eventId"] for e in by_type.events] == [ev["eventId"]]
    assert lookup(trail, ("EventName", "CreateUser"), ("ResourceName", name("nobody"))).events == []


def test_secrets_never_reach_the_trail(ram3, root, name):
    trail = trail_client(root)
    start = since()
    user = name("secret")
    password = f"Tr41l-{uuid.uuid4().hex[:12]}!"
    ram3.create_user(m.CreateUserRequest(user_name=user))
    r = ram3.create_login_profile(m.CreateLoginProfileRequest(
        user_name=user, password=password, password_reset_required=False))
    key = ram3.create_access_key(m.CreateAccessKeyRequest(user_name=user)).body.access_key

    body = lookup(trail, ("EventName", "CreateLoginProfile"), ("ResourceName", user),
                  start_time=start)
    assert len(body.events) == 1
    ev = body.events[0]
    assert ev["requestId"] == r.body.request_id
    assert ev["requestParameters"]["Password"] == "******"
    assert ev["requestParameters"]["UserName"] == user
    assert ev["referencedResources"]["ACS::RAM::User"] == [user]
    assert password not in text_of(body)

    # Nowhere in the account's whole recent trail: not the password, not the new key's secret.
    pages, _ = all_pages(trail, max_results="50")
    everything = json.dumps(pages)
    assert r.body.request_id in everything
    assert password not in everything
    assert key.access_key_secret not in everything


def test_assume_role_response_elements_are_masked(name):
    """STS calls carry responseElements, with AccessKeySecret and SecurityToken masked; the
    session's own calls are recorded as the assumed role."""
    acct = new_account(name("trailsts"))
    ram = ram_client(acct)
    trust = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": [f"acs:ram::{acct.account_id}:root"]}}]})
    ram.create_role(m.CreateRoleRequest(role_name="reader", assume_role_policy_document=trust))
    ram.attach_policy_to_role(m.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunRAMReadOnlyAccess", role_name="reader"))
    # Root identities may not assume roles: a RAM user allowed to does.
    user, _, alice = user_with_key(ram, name, "assumer")
    ram.create_policy(m.CreatePolicyRequest(policy_name="assume-any", policy_document=json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})))
    ram.attach_policy_to_user(m.AttachPolicyToUserRequest(
        policy_type="Custom", policy_name="assume-any", user_name=user))
    sts = StsClient(config(alice, "v3"))
    r = sts.assume_role(sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{acct.account_id}:role/reader", role_session_name="audit")).body
    creds = r.credentials
    session = session_ram_client(creds)
    session.list_users(m.ListUsersRequest())

    trail = trail_client(acct)
    body = lookup(trail, ("EventName", "AssumeRole"))
    assert len(body.events) == 1
    ev = body.events[0]
    assert ev["requestId"] == r.request_id
    assert ev["serviceName"] == "Sts" and ev["eventRW"] == "Write"
    assert ev["eventSource"] == "sts.aliyuncs.com" and ev["apiVersion"] == "2015-04-01"
    assert ev["userIdentity"]["type"] == "ram-user"
    assert ev["userIdentity"]["userName"] == user
    assert ev["userIdentity"]["accessKeyId"] == alice.key_id
    assert ev["requestParameters"]["RoleArn"] == f"acs:ram::{acct.account_id}:role/reader"
    assert ev["requestParameters"]["RoleSessionName"] == "audit"
    assert ev["referencedResources"]["ACS::RAM::Role"] == ["reader"]
    resp = ev["responseElements"]
    assert resp["Credentials"]["AccessKeyId"] == creds.access_key_id
    assert resp["Credentials"]["AccessKeySecret"] == "******"
    assert resp["Credentials"]["SecurityToken"] == "******"
    assert resp["AssumedRoleUser"]["Arn"] == f"acs:ram::{acct.account_id}:role/reader/audit"

    used = lookup(trail, ("EventAccessKeyId", creds.access_key_id))
    assert [e["eventName"] for e in used.events] == ["ListUsers"]
    ui = used.events[0]["userIdentity"]
    assert ui["type"] == "assumed-role"
    assert ui["accessKeyId"] == creds.access_key_id
    assert ui["accountId"] == acct.account_id
    assert ui["principalId"].endswith(":audit")
    assert ui["sessionContext"]["sessionIssuer"]["userName"] == "reader"

    pages, _ = all_pages(trail, max_results="50")
    everything = json.dumps(pages)
    assert creds.access_key_secret not in everything
    assert creds.security_token not in everything


# ---------------------------------------------------------------------------------------
# Refused calls, and who may read the trail

def test_refused_calls_are_recorded_and_reading_needs_permission(ram3, root, name):
    start = since()
    user, user_id, creds = user_with_key(ram3, name, "nosy")
    code, status, denied = sdk_error(ram_client(creds).list_users, m.ListUsersRequest())
    assert (code, status) == ("NoPermission", 403)

    trail = trail_client(root)
    body = lookup(trail, ("EventAccessKeyId", creds.key_id), ("EventName", "ListUsers"),
                  start_time=start)
    assert len(body.events) == 1
    ev = body.events[0]
    assert ev["requestId"] == denied.request_id
    assert ev["errorCode"] == "NoPermission" and ev["errorMessage"]
    assert ev["eventRW"] == "Read" and ev["serviceName"] == "Ram"
    ui = ev["userIdentity"]
    assert ui["type"] == "ram-user"
    assert ui["userName"] == user and ui["principalId"] == user_id
    assert ui["accountId"] == root.account_id and ui["accessKeyId"] == creds.key_id

    # The user may not read the trail: NoPermission, for actiontrail:LookupEvents.
    as_user = trail_client(creds)
    code, status, e = sdk_error(as_user.lookup_events, t.LookupEventsRequest(start_time=start))
    assert (code, status) == ("NoPermission", 403)
    assert e.data["Code"] == "NoPermission" and e.request_id == e.data["RequestId"]
    detail = getattr(e, "access_denied_detail", None) or e.data.get("AccessDeniedDetail")
    assert detail["AuthAction"] == "actiontrail:LookupEvents"
    assert detail["AuthPrincipalType"] == "SubUser"

    ram3.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name=user, policy_type="System", policy_name="AliyunActionTrailReadOnlyAccess"))
    for version in ("v3", "v1"):
        mine = lookup(trail_client(creds, version), ("User", user), start_time=start)
        names = [(x["eventName"], x.get("errorCode")) for x in mine.events]
        # Its own refused LookupEvents is in the trail too, newest first.
        assert ("LookupEvents", "NoPermission") in names and ("ListUsers", "NoPermission") in names
        times = [x["eventTime"] for x in mine.events]
        assert times == sorted(times, reverse=True)
        assert all(x["userIdentity"]["userName"] == user for x in mine.events)
        refused = next(x for x in mine.events
                       if x["eventName"] == "LookupEvents" and x.get("errorCode"))
        assert refused["requestId"] == e.request_id
        assert refused["serviceName"] == "Actiontrail" and refused["eventRW"] == "Read"
        assert refused["eventSource"] == "actiontrail.aliyuncs.com"
    # It sees the whole account's trail, root's calls included.
    attach = lookup(as_user, ("EventName", "AttachPolicyToUser"), ("ResourceName", user),
                    start_time=start)
    assert len(attach.events) == 1
    assert attach.events[0]["userIdentity"]["type"] == "root-account"
    assert attach.events[0]["requestParameters"]["PolicyName"] == "AliyunActionTrailReadOnlyAccess"


def test_accounts_see_only_their_own_trail(ram3, root, name):
    start = since()
    user = name("mine")
    ram3.create_user(m.CreateUserRequest(user_name=user))
    other = new_account(name("trailother"))
    theirs = lookup(trail_client(other), ("ResourceName", user), start_time=start)
    assert theirs.events == []
    ours = lookup(trail_client(root), ("ResourceName", user), start_time=start)
    assert [e["eventName"] for e in ours.events] == ["CreateUser"]


# ---------------------------------------------------------------------------------------
# Paging

@pytest.mark.parametrize("version", ["v3", "v1"])
def test_pagination_newest_first(version, name):
    acct = new_account(name("trailpages"))
    ram, trail = ram_client(acct), trail_client(acct, version)
    users = [f"p{i}" for i in range(7)]
    request_ids = [ram.create_user(m.CreateUserRequest(user_name=u)).body.request_id for u in users]

    pages, tokens = all_pages(trail, ("EventName", "CreateUser"), max_results="2")
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert len(tokens) == 3
    events = [e for p in pages for e in p]
    ids = [e["eventId"] for e in events]
    assert len(set(ids)) == len(ids) == 7
    assert [e["requestParameters"]["UserName"] for e in events] == users[::-1]
    assert [e["requestId"] for e in events] == request_ids[::-1]
    times = [e["eventTime"] for e in events]
    assert times == sorted(times, reverse=True)

    # Unfiltered: the 7 CreateUser calls and the 4 LookupEvents calls above, each once.
    pages, _ = all_pages(trail, max_results="2")
    events = [e for p in pages for e in p]
    ids = [e["eventId"] for e in events]
    assert len(set(ids)) == len(ids)
    names = [e["eventName"] for e in events]
    assert names == ["LookupEvents"] * 4 + ["CreateUser"] * 7
    times = [e["eventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    assert [e["requestParameters"]["UserName"] for e in events[4:]] == users[::-1]

    # A page as large as the whole set has no NextToken.
    one = lookup(trail, ("EventName", "CreateUser"), max_results="7")
    assert len(one.events) == 7 and not one.next_token

    # Direction as the SDK documents it: BACKWARD (the default) newest first, FORWARD
    # oldest first, each paging with its own NextToken.
    backward = lookup(trail, ("EventName", "CreateUser"), max_results="7", direction="BACKWARD")
    assert [e["requestId"] for e in backward.events] == request_ids[::-1]
    forward, token = [], None
    while True:
        body = lookup(trail, ("EventName", "CreateUser"), max_results="3",
                      direction="FORWARD", next_token=token)
        forward += body.events
        if not body.next_token:
            break
        token = body.next_token
    assert [e["requestId"] for e in forward] == request_ids


# ---------------------------------------------------------------------------------------
# Filters

def test_event_access_key_id_filters_by_signing_key(name):
    acct = new_account(name("trailkeys"))
    ram = ram_client(acct)
    user, _, creds = user_with_key(ram, name, "signer")
    ram.attach_policy_to_user(m.AttachPolicyToUserRequest(
        user_name=user, policy_type="System", policy_name="AliyunRAMReadOnlyAccess"))
    as_user = ram_client(creds)
    as_user.list_users(m.ListUsersRequest())
    as_user.get_user(m.GetUserRequest(user_name=user))
    code, _, _ = sdk_error(as_user.create_user, m.CreateUserRequest(user_name=name("no")))
    assert code == "NoPermission"

    trail = trail_client(acct)
    signed = lookup(trail, ("EventAccessKeyId", creds.key_id))
    assert [e["eventName"] for e in signed.events] == ["CreateUser", "GetUser", "ListUsers"]
    assert all(e["userIdentity"]["accessKeyId"] == creds.key_id for e in signed.events)
    assert all(e["userIdentity"]["type"] == "ram-user" for e in signed.events)
    assert [e.get("errorCode") for e in signed.events] == ["NoPermission", None, None]

    by_root = lookup(trail, ("EventAccessKeyId", acct.key_id), max_results="50")
    names = [e["eventName"] for e in by_root.events]
    assert names == ["LookupEvents", "AttachPolicyToUser", "CreateAccessKey", "CreateUser"]
    assert all(e["userIdentity"]["accessKeyId"] == acct.key_id for e in by_root.events)
    assert all(e["userIdentity"]["type"] == "root-account" for e in by_root.events)

    writes = lookup(trail, ("EventAccessKeyId", creds.key_id), ("EventRW", "Write"))
    assert [e["eventName"] for e in writes.events] == ["CreateUser"]
    reads = lookup(trail, ("EventRW", "Read"), ("ServiceName", "Actiontrail"))
    assert [e["eventName"] for e in reads.events] == ["LookupEvents"] * 3
    assert lookup(trail, ("EventAccessKeyId", "LTAI" + "0" * 20)).events == []


# ---------------------------------------------------------------------------------------
# Bad input

def test_bad_input_is_invalid_parameter(trail):
    code, status, e = sdk_error(trail.lookup_events, t.LookupEventsRequest(max_results="51"))
    assert (code, status) == ("InvalidParameter.MaxResults", 400)
    assert e.data["Code"] == code and "MaxResults" in e.data["Message"]
    assert e.data["HostId"] == "actiontrail.aliyuncs.com"
    assert e.request_id == e.data["RequestId"] and len(e.request_id) == 36
    code, status, _ = sdk_error(trail.lookup_events, t.LookupEventsRequest(start_time="yesterday"))
    assert (code, status) == ("InvalidParameter.StartTime", 400)
    code, status, _ = sdk_error(trail.lookup_events, t.LookupEventsRequest(end_time="2020-13-01"))
    assert (code, status) == ("InvalidParameter.EndTime", 400)
    code, status, _ = sdk_error(trail.lookup_events, t.LookupEventsRequest(
        start_time="2030-01-02T00:00:00Z", end_time="2030-01-01T00:00:00Z"))
    assert (code, status) == ("InvalidParameter.StartTime", 400)
    code, status, _ = sdk_error(trail.lookup_events, t.LookupEventsRequest(next_token="garbage"))
    assert (code, status) == ("InvalidParameter.NextToken", 400)
    code, status, _ = sdk_error(trail.lookup_events, t.LookupEventsRequest(lookup_attribute=[
        t.LookupEventsRequestLookupAttribute(key="Colour", value="blue")]))
    assert (code, status) == ("InvalidParameter.LookupAttribute.Key", 400)
