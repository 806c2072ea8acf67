"""Fixtures for the interop suite: a server started by ./run, clients from the official SDKs."""

import itertools
import json
import os
import subprocess
import uuid

import pytest
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.models import Config

ENDPOINT = os.environ.get("RAMPART_ENDPOINT", "")
BOOTSTRAP = os.environ.get("RAMPART_BOOTSTRAP", "")

_counter = itertools.count()


def pytest_configure(config):
    if not ENDPOINT or not BOOTSTRAP:
        raise pytest.UsageError("run the suite with tests/interop/run, which starts a server")


class Creds:
    def __init__(self, account_id, key_id, secret):
        self.account_id = account_id
        self.key_id = key_id
        self.secret = secret


def ram_client(creds, version="v3"):
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
    return RamClient(Config(**kwargs))


@pytest.fixture(scope="session")
def root():
    with open(BOOTSTRAP) as f:
        b = json.load(f)
    return Creds(b["AccountId"], b["AccessKeyId"], b["AccessKeySecret"])


@pytest.fixture(params=["v3", "v1"])
def ram(request, root):
    """The RAM client of the management account's root identity, once per signature version."""
    return ram_client(root, request.param)


@pytest.fixture
def ram3(root):
    return ram_client(root, "v3")


@pytest.fixture
def name():
    """Unique names: every test leaves its entities behind and must not collide with others."""

    def make(prefix="t"):
        return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"

    return make


def new_account(account_name):
    """`rampart account create` on the running server's store, as an operator would."""
    cmd = [os.environ["RAMPART_BIN"], "account", "create", "--name", account_name]
    if os.environ.get("RAMPART_INTEROP_DATABASE_URL"):
        cmd += ["--database-url", os.environ["RAMPART_INTEROP_DATABASE_URL"]]
        if os.environ.get("RAMPART_INTEROP_DATABASE_SCHEMA"):
            cmd += ["--database-schema", os.environ["RAMPART_INTEROP_DATABASE_SCHEMA"]]
        cmd += ["--master-key-file", os.environ["RAMPART_MASTER_KEY_FILE"]]
    else:
        cmd += ["--data-dir", os.environ["RAMPART_DATA_DIR"]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)
    return Creds(b["AccountId"], b["AccessKeyId"], b["AccessKeySecret"])


def sdk_error(fn, *args):
    """Calls fn expecting the SDK to raise; returns (code, http status, exception)."""
    with pytest.raises(Exception) as info:
        fn(*args)
    e = info.value
    status = getattr(e, "status_code", None) or getattr(e, "statusCode", None)
    if status is None and isinstance(getattr(e, "data", None), dict):
        status = e.data.get("statusCode")
    return getattr(e, "code", None), status, e
