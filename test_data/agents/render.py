#!/usr/bin/env python3
"""Render a Helm chart offline and print the documents of the given kinds.

    render.py CHART_DIR RELEASE NAMESPACE [VALUES_JSON] > out.yaml

Uses the Helm v4 Go SDK through `pip install helm-python-sdk` (import
`helm_python`; Helm SDK v4.2.3, `.Capabilities.KubeVersion` v1.36.0), which is
what `helm template RELEASE CHART_DIR -n NAMESPACE` runs. Each document is
printed as the chart rendered it, after a `# Source:` line, in template order;
only kinds in $KINDS (default DaemonSet,CSIDriver,StorageClass) are kept.
"""
import json
import os
import re
import sys

import helm_python as helm
import yaml


def main():
    chart, release, namespace = sys.argv[1:4]
    values = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    kinds = set(os.environ.get("KINDS", "DaemonSet,CSIDriver,StorageClass").split(","))
    with helm.Chart.load(chart) as c:
        out = c.render(values, name=release, namespace=namespace, is_install=True)
    for source in sorted(out):
        if not source.endswith((".yaml", ".yml")):
            continue
        for doc in re.split(r"(?m)^---\s*$", out[source]):
            try:
                obj = yaml.safe_load(doc)
            except yaml.YAMLError as e:
                sys.exit(f"{source}: {e}")
            if isinstance(obj, dict) and obj.get("kind") in kinds:
                print("---")
                print(f"# Source: {source}")
                print("\n".join(l.rstrip() for l in doc.strip("\n").splitlines()))


if __name__ == "__main__":
    main()
