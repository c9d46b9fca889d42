"""Starts a scripted fake provider and the local `apex` binary on loopback for the SDK tests.

APEX_BIN and FAKE_UPSTREAM_BIN name the binaries (the Rust test `openai_sdk` sets them)."""

import os
import re
import subprocess
import tempfile
import time
import urllib.request

import pytest

GATEWAY_KEY = "apex-sdk-test-key"


def _start(args, env=None, pattern=r"listening on (?:http://)?(\S+)"):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 120
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start: {''.join(seen)}")


@pytest.fixture(scope="session")
def gateway():
    fake, fake_addr = _start([os.environ["FAKE_UPSTREAM_BIN"], "--listen", "127.0.0.1:0", "--chunks", "5"])
    with tempfile.TemporaryDirectory() as data:
        config = os.path.join(data, "apex.toml")
        with open(config, "w") as f:
            f.write(
                f"""
[gateway]
api_keys = {{ sdk = "apex_sdk_key" }}

[providers.fakeopenai]
kind = "openai"
base_url = "http://{fake_addr}/v1"
keys = ["fake_openai_key"]

[providers.fakeanthropic]
kind = "anthropic"
base_url = "http://{fake_addr}/v1"
keys = ["fake_anthropic_key"]

[providers.fakegemini]
kind = "gemini"
base_url = "http://{fake_addr}/v1beta"
keys = ["fake_gemini_key"]

[models.gpt-fake]
targets = ["fakeopenai/gpt-4o-mini"]

[models.claude-fake]
targets = ["fakeanthropic/claude-sonnet-4-5"]

[models.gemini-fake]
targets = ["fakegemini/gemini-2.5-flash"]

[models.embedder-fake]
targets = ["fakegemini/gemini-embedding-001"]
"""
            )
        env = dict(os.environ, APEX_SDK_KEY=GATEWAY_KEY, FAKE_OPENAI_KEY="sk-fake-openai", FAKE_ANTHROPIC_KEY="sk-fake-anthropic", FAKE_GEMINI_KEY="fake-gemini-key")
        apex, addr = _start(
            [os.environ["APEX_BIN"], "--listen", "127.0.0.1:0", "--config", config, "--data-dir", os.path.join(data, "state")],
            env=env,
        )
        try:
            urllib.request.urlopen(f"http://{addr}/health", timeout=30).read()
            yield f"http://{addr}/v1"
        finally:
            apex.kill()
            fake.kill()
            apex.wait()
            fake.wait()
