#!/usr/bin/env python3
"""Judge every DaemonSet request with the envelope summarize.py prints for it.

    python3 test_data/agents/check_envelopes.py CLI MODULE

CLI is the `daemonset-csi-policy` binary, MODULE the annotated wasm. For each
DaemonSet of requests/, writes settings `{daemonSets: {hostPaths, tolerations}}`
from its envelope (forbidden = the defaults minus those the envelope reaches)
into a temporary folder and runs `CLI examples` on that one request: every line
should say ALLOWED, except where the envelope needs a profile-only grant
(`/` read-only) or cannot grant anything (Windows paths).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

import summarize

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    cli, module = sys.argv[1:3]
    rdir = os.path.join(HERE, "requests")
    for f in sorted(os.listdir(rdir)):
        req = json.load(open(os.path.join(rdir, f)))
        if req["object"]["kind"] != "DaemonSet":
            continue
        text = "\n".join(summarize.envelope(req["object"]["spec"]["template"]["spec"]))
        m = re.search(r"#   (.*)", text)
        touched = {x.strip() for x in m.group(1).split(",")} if m else set()
        env = yaml.safe_load(text)
        hp = env["hostPaths"]
        hp["allowed"] = hp.get("allowed") or []
        hp["forbidden"] = [p for p in summarize.FORBIDDEN if p not in touched]
        settings = {"daemonSets": {"hostPaths": hp, "tolerations": env.get("tolerations") or {}}}
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "req"))
            with open(os.path.join(d, "settings.json"), "w") as s:
                json.dump(settings, s)
            with open(os.path.join(d, "req", f), "w") as r:
                json.dump(req, r)
            out = subprocess.run(
                [cli, "examples", "--module", module, "--settings-path", os.path.join(d, "settings.json"),
                 "--requests", os.path.join(d, "req"), "--quiet-logs"],
                capture_output=True, text=True,
            )
        line = (out.stdout.splitlines() or [out.stderr.strip()])[0]
        print(f"{f}: {line.split(f, 1)[-1].strip()[:200]}")


if __name__ == "__main__":
    main()
