#!/usr/bin/env python3
"""Print, per DaemonSet request in requests/, the envelope a profile must grant.

    python3 test_data/agents/summarize.py > /tmp/envelope.md

For each DaemonSet: namespace, serviceAccountName, images, hostNetwork/hostPID/
hostIPC, privileged containers and added capabilities, every hostPath volume with
its type and every mount of it (container, mountPath, readOnly,
mountPropagation, subPath/subPathExpr), other volumes by kind, tolerations.
Read from the defaulted request objects, so `type: ""` shows where the chart
sets none.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def containers(spec):
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            yield key, c


def main():
    rdir = os.path.join(HERE, "requests")
    for f in sorted(os.listdir(rdir)):
        req = json.load(open(os.path.join(rdir, f)))
        obj = req["object"]
        if obj["kind"] != "DaemonSet":
            continue
        spec = obj["spec"]["template"]["spec"]
        print(f"### `{f}` ({obj['metadata']['namespace']}/{obj['metadata']['name']})\n")
        print(f"* serviceAccountName: `{spec.get('serviceAccountName', '(none)')}`")
        imgs = sorted({c["image"] for _, c in containers(spec)})
        print("* images: " + ", ".join(f"`{i}`" for i in imgs))
        host = [k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
        print("* host namespaces: " + (", ".join(host) if host else "none"))
        priv = []
        for key, c in containers(spec):
            sc = c.get("securityContext") or {}
            bits = []
            if sc.get("privileged"):
                bits.append("privileged")
            add = (sc.get("capabilities") or {}).get("add")
            if add:
                bits.append("add " + "/".join(add))
            if bits:
                priv.append(f"{c['name']} ({', '.join(bits)})")
        print("* privileged / capabilities: " + (", ".join(priv) if priv else "none"))
        vols = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = {}
        for key, c in containers(spec):
            for m in c.get("volumeMounts") or []:
                mounts.setdefault(m["name"], []).append((key, c["name"], m))
        print("* hostPaths:")
        any_hp = False
        for name, v in vols.items():
            hp = v.get("hostPath")
            if not hp:
                continue
            any_hp = True
            t = hp.get("type") or '""'
            print(f"  * `{hp['path']}` (volume `{name}`, type `{t}`)")
            for key, cname, m in mounts.get(name, []):
                bits = ["ro" if m.get("readOnly") else "**rw**"]
                if m.get("mountPropagation"):
                    bits.append(m["mountPropagation"])
                if m.get("subPath"):
                    bits.append(f"subPath `{m['subPath']}`")
                if m.get("subPathExpr"):
                    bits.append(f"subPathExpr `{m['subPathExpr']}`")
                init = " (init)" if key == "initContainers" else ""
                print(f"    * {cname}{init} → `{m['mountPath']}`: {', '.join(bits)}")
            if not mounts.get(name):
                print("    * (not mounted)")
        if not any_hp:
            print("  * none")
        others = {}
        for name, v in vols.items():
            kind = next((k for k in v if k != "name"), "?")
            if kind != "hostPath":
                others.setdefault(kind, []).append(name)
        if others:
            print("* other volumes: " + "; ".join(f"{k}: {', '.join(n)}" for k, n in sorted(others.items())))
        csi = [v for v in vols.values() if "csi" in v]
        for v in csi:
            print(f"  * inline CSI `{v['name']}`: driver `{v['csi']['driver']}`")
        tol = spec.get("tolerations") or []
        print("* tolerations: " + ("none" if not tol else ""))
        for t in tol:
            print("  * `" + json.dumps(t, separators=(",", ":")) + "`")
        print()


if __name__ == "__main__":
    main()
