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
import posixpath

# README.md "daemonSets.hostPaths.forbidden" defaults (src/daemonset/host_paths.rs).
FORBIDDEN = [
    "/run/containerd", "/var/run/containerd", "/run/crio", "/var/run/crio",
    "/run/docker.sock", "/var/run/docker.sock", "/run/cri-dockerd.sock",
    "/var/run/cri-dockerd.sock", "/run/k3s/containerd", "/var/run/k3s/containerd",
    "/etc/kubernetes",
]


def norm(path):
    if not path.startswith("/"):
        return path
    return posixpath.normpath(path) if path != "/" else "/"


def under(path, prefix):
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def repository(image):
    """The image's repository without tag or digest (these fixtures all name a domain first)."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def match(obj):
    """A profile `match` naming this DaemonSet by namespace, name, ServiceAccount and images."""
    spec = obj["spec"]["template"]["spec"]
    repos = []
    for _, c in containers(spec):
        r = repository(c["image"])
        if r not in repos:
            repos.append(r)
    lines = [
        "match:",
        f"  namespaces: [{obj['metadata']['namespace']}]",
        f"  names: [{obj['metadata']['name']}]",
        f"  serviceAccountNames: [{spec.get('serviceAccountName') or 'default'}]",
        "  images:",
    ]
    lines += [f"    - repository: {r}" for r in repos]
    return lines


def envelope(spec):
    """The hostPaths.allowed entries and tolerations that admit this pod template as it is."""
    mounts = {}
    for _, c in containers(spec):
        for m in c.get("volumeMounts") or []:
            mounts.setdefault(m["name"], []).append(m)
    lines = ["hostPaths:", "  allowed:"]
    touched = set()
    # One entry per normalised path (the policy refuses duplicates): volumes of the same path merge.
    grants = {}
    for v in spec.get("volumes") or []:
        hp = v.get("hostPath")
        if not hp or not hp["path"].startswith("/"):
            continue
        ms = mounts.get(v["name"], [])
        g = grants.setdefault(norm(hp["path"]), {"mounts": [], "types": [], "used": False})
        g["mounts"] += ms
        g["used"] = g["used"] or bool(ms)
        if hp.get("type", "") not in g["types"]:
            g["types"].append(hp.get("type", ""))
    if not grants:
        lines[1] = "  allowed: []  # no absolute POSIX hostPath: nothing can be granted"
    for path, g in grants.items():
        ms = g["mounts"]
        ro = all(m.get("readOnly") for m in ms)
        props = sorted({m.get("mountPropagation") for m in ms if m.get("mountPropagation") not in (None, "None")})
        types = ", ".join(json.dumps(t) for t in g["types"])
        entry = f"    - {{pathPrefix: {path}, readOnly: {str(ro).lower()}, types: [{types}]"
        if "Bidirectional" in props:
            entry += ", allowBidirectional: true"
        entry += "}"
        notes = []
        if "HostToContainer" in props:
            notes.append("HostToContainer")
        if path == "/":
            notes.append("a profile-only grant")
        if not g["used"]:
            notes.append("volume not mounted")
        if notes:
            entry += "  # " + ", ".join(notes)
        lines.append(entry)
        for f in FORBIDDEN:
            if under(path, f) or under(f, path):
                touched.add(f)
    if touched:
        lines.append("  # default-forbidden paths it reaches (leave them out of the profile's forbidden):")
        lines.append("  #   " + ", ".join(sorted(touched)))
    tol = spec.get("tolerations") or []
    lines.append("tolerations:" + (" {}  # none" if not tol else ""))
    if any(not t.get("key") and t.get("operator") == "Exists" for t in tol):
        effects = sorted({t.get("effect", "") for t in tol if not t.get("key")})
        if "" in effects:
            lines.append("  allowWildcard: true")
        else:
            lines.append(f"  allowedWildcardEffects: [{', '.join(effects)}]")
    keyed = [t for t in tol if t.get("key")]
    if keyed:
        lines.append("  allowed:")
        for t in keyed:
            lines.append("    - " + json.dumps(t, separators=(", ", ": ")))
    return lines

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
        print("* envelope (a profile's match and the sections that admit it unchanged):\n")
        print("  ```yaml")
        for line in match(obj) + envelope(spec):
            print("  " + line)
        print("  ```")
        print()


if __name__ == "__main__":
    main()
