"""The embedded Valkey never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

OWNER = ("import sys, time\n"
         "from app.embedded_redis import EmbeddedValkey\n"
         "server = EmbeddedValkey(sys.argv[1]).start()\n"
         "print(server.port, flush=True)\n"
         "time.sleep(600)\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_killed_owner_takes_its_embedded_valkey_with_it(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path / "valkey")], stdout=subprocess.PIPE,
                             text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    server = None
    try:
        port = int(owner.stdout.readline() or 0)  # 0: the owner died before its server answered
        assert port, "the owner process could not start its embedded Valkey"
        server = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        assert server.ping()
        owner.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can tell the server
        owner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                server.ping()
            except redis.ConnectionError:
                server = None
                return
            time.sleep(0.05)
        pytest.fail("the embedded Valkey is still answering after its owner was killed")
    finally:  # whatever failed above, leave no owner and no server behind
        if owner.poll() is None:
            owner.kill()
            owner.wait(timeout=10)
        owner.stdout.close()
        if server is not None:
            try:
                server.shutdown(nosave=True)
            except redis.RedisError:
                pass
