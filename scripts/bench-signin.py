"""Console sign-in throughput (BENCHMARKS.md): password sign-ins per second, and per core of
server CPU. Sets up a RAM user with a login profile through the official RAM SDK, then runs
`threads` clients for `seconds`, each signing in again and again as a browser does (GET /login
for the form and its CSRF cookie, POST the form; a success is a 303 to /console). Prints JSON.

    python scripts/bench-signin.py HOST:PORT BOOTSTRAP.json SERVER_PID [seconds] [threads]
"""

import http.client
import json
import re
import sys
import threading
import time

from alibabacloud_ram20150501 import models as m
from alibabacloud_ram20150501.client import Client
from alibabacloud_tea_openapi.models import Config

endpoint, bootstrap, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
host, port = endpoint.split(":")
password = "Bench-Password-42"
with open(bootstrap) as f:
    b = json.load(f)
ram = Client(Config(access_key_id=b["AccessKeyId"], access_key_secret=b["AccessKeySecret"],
                    endpoint=endpoint, protocol="http"))
ram.create_user(m.CreateUserRequest(user_name="signin"))
ram.create_login_profile(m.CreateLoginProfileRequest(user_name="signin", password=password))
logon = f"signin@{b['AccountId']}"


def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def sign_in(conn):
    conn.request("GET", "/login")
    r = conn.getresponse()
    body = r.read().decode()
    cookie = r.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    form = f"csrf={csrf}&logon={logon.replace('@', '%40')}&password={password}"
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    r = conn.getresponse()
    r.read()
    return r.status == 303 and r.getheader("location") == "/console"


counts, failures = [0] * threads, [0] * threads
stop = time.monotonic() + seconds


def worker(i):
    conn = http.client.HTTPConnection(host, int(port))
    while time.monotonic() < stop:
        if sign_in(conn):
            counts[i] += 1
        else:
            failures[i] += 1


cpu0, t0 = cpu_seconds(), time.monotonic()
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
done = sum(counts)
print(json.dumps({
    "sign_ins": done, "failures": sum(failures), "seconds": round(elapsed, 2),
    "sign_ins_per_sec": round(done / elapsed, 1), "server_cpu_seconds": round(cpu, 2),
    "sign_ins_per_cpu_second": round(done / cpu, 1) if cpu else None, "threads": threads,
}))
