"""Rate limits as the official SDK sees them: a second server started with a per-AccessKey limit
answers `Throttling.User` with `x-acs-retry-after`, which the Tea SDK raises as its
ThrottlingException carrying the wait."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import ThrottlingException
from alibabacloud_tea_openapi.models import Config


@pytest.fixture(scope="module")
def limited_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp()
    data = os.path.join(work, "data")
    proc = subprocess.Popen(
        [os.environ["RAMPART_BIN"], "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
         "--master-key-file", os.path.join(work, "master.key"),
         "--rate-limit-per-key", "1/2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with open(os.path.join(data, "bootstrap.json")) as f:
            b = json.load(f)
        yield f"127.0.0.1:{port}", b
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def client(endpoint, b, version):
    kwargs = dict(access_key_id=b["AccessKeyId"], access_key_secret=b["AccessKeySecret"],
                  endpoint=endpoint, protocol="http")
    if version == "v1":
        kwargs["signature_algorithm"] = "v2"
    return RamClient(Config(**kwargs))


@pytest.mark.parametrize("version", ["v3", "v1"])
def test_an_access_key_over_its_limit_gets_a_throttling_exception(limited_server, version):
    endpoint, b = limited_server
    ram = client(endpoint, b, version)
    time.sleep(2.1)  # a full bucket: 2 requests now, then 1 per second
    ram.list_users(ram_models.ListUsersRequest())
    ram.list_users(ram_models.ListUsersRequest())
    with pytest.raises(ThrottlingException) as e:
        ram.list_users(ram_models.ListUsersRequest())
    assert e.value.code == "Throttling.User"
    assert e.value.status_code == 400
    assert 0 < e.value.retry_after <= 1000
    time.sleep(e.value.retry_after / 1000 + 0.05)
    ram.list_users(ram_models.ListUsersRequest())
