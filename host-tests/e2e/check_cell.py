#!/usr/bin/env python3
"""Judges one cell of the end-to-end matrix (see run-all.sh) and explains a failure.

    check_cell.py CELL_DIR KIND MODE MARKER STATUS

CELL_DIR holds `cli.out` (the CLI's output), `provider.jsonl` (the scripted provider's records
of this cell) and `exchanges.jsonl` (what the CLI sent Apex and what Apex answered, from the
recording proxy). A cell passes when all of these hold:

- the CLI exited 0 and its output holds the provider's answer (`E2E-TEXT-OK` for the text turn;
  `E2E-DONE: the secret word is <MARKER>` for the tool round trip);
- the provider refused nothing (a refusal means Apex sent what the real API refuses) and every
  request reached the provider of the cell's KIND;
- the provider answered the turns the mode needs: a text answer to a request offering tools
  (text), or a tool call and then, once the tool result came back, the final answer (tool);
- Apex answered every CLI request with a 2xx, except the documented 426 to Codex's WebSocket
  upgrade (`GET /v1/responses` with `Upgrade: websocket`).

Prints `PASS` or `FAIL: <the likeliest cause>` as its first line, then every reason and the
evidence for a failure: Apex's
non-2xx answers (request and response bodies), the provider's refusals, the CLI output's end.
"""

import json
import sys

cell, kind, mode, marker, status = sys.argv[1:6]
status = int(status)


def records(name):
    try:
        with open(f"{cell}/{name}") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


output = open(f"{cell}/cli.out", errors="replace").read()
provider = records("provider.jsonl")
exchanges = records("exchanges.jsonl")
reasons, evidence = [], []

if status == 124:
    reasons.append("the CLI timed out")
elif status != 0:
    reasons.append(f"the CLI exited {status}")
expected = "E2E-TEXT-OK" if mode == "text" else f"E2E-DONE: the secret word is {marker}"
if expected not in output:
    reasons.append(f"the CLI output lacks `{expected}`")

refused = [r for r in provider if (r.get("status") or 0) >= 400]
for r in refused:
    reasons.append(f"the provider refused {r['method']} {r['path']} with {r['status']}")
    evidence.append(f"--- provider refusal ({r['status']}) of {r['method']} {r['path']}:\n"
                    f"{json.dumps(r.get('error'))}\n--- the request body Apex sent:\n"
                    f"{json.dumps(r.get('body'))[:6000]}")
elsewhere = [r for r in provider if r.get("kind") != kind]
if elsewhere:
    reasons.append(f"{len(elsewhere)} request(s) reached another provider kind: "
                   + ", ".join(sorted({r.get('path', '?') for r in elsewhere})))
answers = [r.get("answer") or [] for r in provider if r.get("status") == 200]
if mode == "text":
    if not any(a[:1] == ["text"] and a[1].startswith("E2E-TEXT-OK") for a in answers):
        reasons.append("the provider never answered the main turn")
else:
    calls = [n for n, a in enumerate(answers) if a[:1] == ["call"]]
    done = [n for n, a in enumerate(answers) if a[:1] == ["text"] and a[1].startswith("E2E-DONE")]
    if not calls:
        reasons.append("the provider never got to ask for the tool call")
    elif not done or done[-1] < calls[0]:
        reasons.append("the tool result never came back to the provider")
    elif not any(marker in a[1] for a in (answers[n] for n in done)):
        reasons.append("the tool result that came back lacks the secret word")
    no_secret = [a for a in answers if a[:1] == ["text"] and a[1].startswith("E2E-NO-SECRET")]
    if no_secret and not done:
        evidence.append(f"--- the provider saw a tool result without the secret word: {no_secret[-1][1]}")

for x in exchanges:
    code = x.get("status")
    websocket_upgrade = code == 426 and x.get("method") == "GET" and x.get("path", "").startswith("/v1/responses")
    if code is None or (code >= 300 and not websocket_upgrade):
        reasons.append(f"Apex answered {x['method']} {x['path']} with {code or x.get('error')}")
        evidence.append(f"--- Apex's answer {code} to {x['method']} {x['path']} "
                        f"(headers {json.dumps(x.get('response_headers'))}):\n{x.get('response_body', '')[:4000]}\n"
                        f"--- the CLI's request body:\n{x.get('request_body', '')[:4000]}")
dropped = sorted({x["response_headers"]["x-apex-dropped-tools"] for x in exchanges
                  if (x.get("response_headers") or {}).get("x-apex-dropped-tools")})


def brief():
    """The likeliest cause first: Apex's own error answer, then a provider refusal, then the rest."""
    for x in exchanges:
        code = x.get("status")
        if code is not None and code >= 300 and not (code == 426 and x.get("method") == "GET"):
            try:
                error = json.loads(x.get("response_body") or "{}").get("error")
                message = error.get("message") if isinstance(error, dict) else error
            except ValueError:
                message = (x.get("response_body") or "")[:120]
            path = x["path"].split("?")[0]
            return f"Apex {code} on {x['method']} {path}: {str(message)[:140]}"
    for r in refused:
        error = (r.get("error") or {}).get("error") or {}
        return f"provider refused ({r['status']}): {str(error.get('message'))[:140]}"
    return reasons[0]


print("PASS" if not reasons else "FAIL: " + brief())
if reasons:
    print("all reasons: " + "; ".join(dict.fromkeys(reasons)))
print(f"requests: CLI->Apex {len(exchanges)}, Apex->provider {len(provider)}"
      + (f"; x-apex-dropped-tools: {', '.join(dropped)}" if dropped else ""))
if reasons:
    for line in dict.fromkeys(evidence):
        print(line)
    tail = output.strip().splitlines()[-40:]
    print("--- the CLI's output (end):")
    print("\n".join(tail) if tail else "(none)")
