#!/usr/bin/env python3
"""Turn the rendered agents (`test_data/agents/*.yaml`) into AdmissionRequests.

    python3 test_data/agents/make_requests.py

writes `test_data/agents/requests/<name>.json`: a bare `admission.k8s.io/v1`
AdmissionRequest (the `request` body) of a CREATE, shaped like
`test_data/requests/*.json` (see test_data/README.md, "Conventions"):

* the object is the rendered document after what the API server does before
  admission webhooks see it: the defaulting functions of
  pkg/apis/apps/v1/defaults.go (SetDefaults_DaemonSet), pkg/apis/core/v1/defaults.go
  (SetDefaults_PodSpec, _Container, _ContainerPort, _Probe, _HTTPGetAction,
  _ObjectFieldSelector, _HostPathVolumeSource, _ConfigMapVolumeSource, ...),
  pkg/apis/storage/v1/defaults.go (SetDefaults_CSIDriver, _StorageClass), the
  DaemonSet strategy's PrepareForCreate (generation 1, the
  `deprecated.daemonset.template.generation` annotation, zeroed status), and the
  JSON encoding (omitempty false booleans dropped, `creationTimestamp: null` in the
  template);
* what the installer adds: Helm's `meta.helm.sh/release-*` annotations, the GPU
  operator's controller ownerReference to its ClusterPolicy;
* uid and creationTimestamp are fixed (UUIDv5), so running it again gives the
  same files.

Requires PyYAML.
"""
import copy
import json
import os
import re
import sys
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")  # uuid.NAMESPACE_URL
CREATED = "2026-08-25T09:00:00Z"


def uid(*parts):
    return str(uuid.uuid5(NS, "daemonset-csi-policy/test_data/agents/" + "/".join(parts)))


def sa_user(namespace, name):
    username = f"system:serviceaccount:{namespace}:{name}"
    return {
        "username": username,
        "uid": uid("user", username),
        "groups": [
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
            "system:authenticated",
        ],
    }


HELM = {"user": sa_user("flux-system", "helm-controller"), "fieldManager": "helm-controller"}
KUBEADM = {
    "user": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
    "fieldManager": None,  # kubeadm's client-go Create sets none
}
KUBECTL = {
    "user": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
    "fieldManager": "kubectl-create",
}
GPU_OPERATOR = {"user": sa_user("gpu-operator", "gpu-operator"), "fieldManager": None}

# file stem -> how it is installed: Helm release (name, namespace) or another installer.
SOURCES = {
    "fluent-bit": dict(HELM, release=("fluent-bit", "logging")),
    "node-exporter": dict(HELM, release=("prometheus-node-exporter", "monitoring")),
    "aws-ebs-csi-driver": dict(HELM, release=("aws-ebs-csi-driver", "kube-system")),
    "secrets-store-csi-driver": dict(HELM, release=("csi-secrets-store", "kube-system")),
    "cilium": dict(HELM, release=("cilium", "kube-system")),
    "calico-node": KUBECTL,
    "datadog": dict(HELM, release=("datadog-agent", "datadog")),
    "falco": dict(HELM, release=("falco", "falco")),
    "kube-proxy": KUBEADM,
    "nvidia-device-plugin": dict(HELM, release=("nvdp", "nvidia-device-plugin")),
    "vector": dict(HELM, release=("vector", "vector")),
    "ceph-csi-rbd": dict(HELM, release=("ceph-csi-rbd", "ceph-csi-rbd")),
    "longhorn": dict(HELM, release=("longhorn", "longhorn-system")),
    "gpu-operator-driver": dict(GPU_OPERATOR, owner="cluster-policy"),
    "gpu-operator-container-toolkit": dict(GPU_OPERATOR, owner="cluster-policy"),
}

# A file with several objects: (file stem, object name) -> request file name.
NAMES = {
    ("aws-ebs-csi-driver", "ebs-csi-node"): "aws-ebs-csi-driver",
    ("aws-ebs-csi-driver", "ebs-csi-node-windows"): "aws-ebs-csi-driver-windows",
    ("cilium", "cilium"): "cilium",
    ("cilium", "cilium-envoy"): "cilium-envoy",
    ("nvidia-device-plugin", "nvdp-nvidia-device-plugin"): "nvidia-device-plugin",
    (
        "nvidia-device-plugin",
        "nvdp-nvidia-device-plugin-mps-control-daemon",
    ): "nvidia-device-plugin-mps-control-daemon",
}

KINDS = {
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "CSIDriver": ("storage.k8s.io", "v1", "csidrivers"),
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses"),
}
CLUSTER_SCOPED = {"CSIDriver", "StorageClass"}


def set_default(d, key, value):
    if d.get(key) is None:
        d[key] = value


def drop_false(d, *keys):
    for k in keys:
        if d.get(k) is False:
            del d[k]


def default_pull_policy(image):
    # pkg/apis/core/v1/defaults.go SetDefaults_Container: Always for :latest or no tag.
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_http_get(h):
    if h is None:
        return
    set_default(h, "path", "/")
    set_default(h, "scheme", "HTTP")


def default_probe(p):
    if p is None:
        return
    set_default(p, "timeoutSeconds", 1)
    set_default(p, "periodSeconds", 10)
    set_default(p, "successThreshold", 1)
    set_default(p, "failureThreshold", 3)
    default_http_get(p.get("httpGet"))


def default_container(c, host_network):
    set_default(c, "terminationMessagePath", "/dev/termination-log")
    set_default(c, "terminationMessagePolicy", "File")
    if c.get("image") is not None:
        set_default(c, "imagePullPolicy", default_pull_policy(c["image"]))
    set_default(c, "resources", {})
    for port in c.get("ports") or []:
        set_default(port, "protocol", "TCP")
        if host_network and not port.get("hostPort"):
            # SetDefaults_PodSpec -> defaultHostNetworkPorts
            port["hostPort"] = port["containerPort"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        default_probe(c.get(probe))
    for hook in ("postStart", "preStop"):
        default_http_get(((c.get("lifecycle") or {}).get(hook) or {}).get("httpGet"))
    for env in c.get("env") or []:
        vf = env.get("valueFrom") or {}
        if vf.get("fieldRef") is not None:
            set_default(vf["fieldRef"], "apiVersion", "v1")
        if vf.get("resourceFieldRef") is not None:
            set_default(vf["resourceFieldRef"], "divisor", "0")
    for m in c.get("volumeMounts") or []:
        drop_false(m, "readOnly")
    drop_false(c, "tty", "stdin", "stdinOnce")


def default_volume(v):
    if "hostPath" in v:
        set_default(v["hostPath"], "type", "")
    for src in ("configMap", "secret", "projected", "downwardAPI"):
        if src in v and v[src] is not None:
            set_default(v[src], "defaultMode", 420)
    for item in (v.get("downwardAPI") or {}).get("items") or []:
        if item.get("fieldRef") is not None:
            set_default(item["fieldRef"], "apiVersion", "v1")
    for source in (v.get("projected") or {}).get("sources") or []:
        if source.get("serviceAccountToken") is not None:
            set_default(source["serviceAccountToken"], "expirationSeconds", 3600)
        for item in (source.get("downwardAPI") or {}).get("items") or []:
            if item.get("fieldRef") is not None:
                set_default(item["fieldRef"], "apiVersion", "v1")


def default_pod_template(t):
    meta = t.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)
    spec = t.setdefault("spec", {})
    set_default(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "restartPolicy", "Always")
    set_default(spec, "terminationGracePeriodSeconds", 30)
    set_default(spec, "securityContext", {})
    set_default(spec, "schedulerName", "default-scheduler")
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            default_container(c, host_network)
    for v in spec.get("volumes") or []:
        default_volume(v)
    drop_false(spec, "hostNetwork", "hostPID", "hostIPC")


def default_daemonset(obj):
    spec = obj["spec"]
    strategy = spec.setdefault("updateStrategy", {})
    set_default(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {}) or {}
        strategy["rollingUpdate"] = ru
        set_default(ru, "maxUnavailable", 1)
        set_default(ru, "maxSurge", 0)
    set_default(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec["template"])
    obj["metadata"]["generation"] = 1
    obj["metadata"].setdefault("annotations", {})["deprecated.daemonset.template.generation"] = "1"
    obj["status"] = {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }


def default_csidriver(obj):
    spec = obj.setdefault("spec", {})
    set_default(spec, "attachRequired", True)
    set_default(spec, "podInfoOnMount", False)
    set_default(spec, "storageCapacity", False)
    set_default(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    set_default(spec, "volumeLifecycleModes", ["Persistent"])
    set_default(spec, "requiresRepublish", False)
    set_default(spec, "seLinuxMount", False)


def default_storageclass(obj):
    set_default(obj, "reclaimPolicy", "Delete")
    set_default(obj, "volumeBindingMode", "Immediate")


def request(stem, name, obj):
    src = SOURCES[stem]
    kind = obj["kind"]
    group, version, resource = KINDS[kind]
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    release = src.get("release")
    namespace = None
    if kind not in CLUSTER_SCOPED:
        namespace = meta.get("namespace") or (release[1] if release else None)
        if namespace is None:
            sys.exit(f"{stem}: {kind} {meta.get('name')} has no namespace")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = uid(stem, kind, meta["name"])
    meta["creationTimestamp"] = CREATED
    if release:
        annotations = meta.setdefault("annotations", {}) or {}
        meta["annotations"] = annotations
        annotations["meta.helm.sh/release-name"] = release[0]
        annotations["meta.helm.sh/release-namespace"] = release[1]
    if src.get("owner"):
        meta["ownerReferences"] = [
            {
                "apiVersion": "nvidia.com/v1",
                "kind": "ClusterPolicy",
                "name": src["owner"],
                "uid": uid("ClusterPolicy", src["owner"]),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    {"DaemonSet": default_daemonset, "CSIDriver": default_csidriver, "StorageClass": default_storageclass}[
        kind
    ](obj)
    options = {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    if src["fieldManager"]:
        options["fieldManager"] = src["fieldManager"]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    req = {
        "uid": uid("request", name),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": meta["name"],
    }
    if namespace:
        req["namespace"] = namespace
    req.update(
        {
            "operation": "CREATE",
            "userInfo": src["user"],
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": options,
        }
    )
    return req


def main():
    out_dir = os.path.join(HERE, "requests")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for file in sorted(os.listdir(HERE)):
        if not file.endswith(".yaml"):
            continue
        stem = file[: -len(".yaml")]
        base = re.sub(r"-(csidriver|storageclass)$", "", stem)
        with open(os.path.join(HERE, file)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            if len(docs) == 1:
                name = stem
            else:
                name = NAMES.get((stem, doc["metadata"]["name"]))
                if name is None:
                    sys.exit(f"{file}: no request name for {doc['kind']} {doc['metadata']['name']}")
            req = request(base, name, doc)
            path = os.path.join(out_dir, name + ".json")
            with open(path, "w") as f:
                json.dump(req, f, indent=2)
                f.write("\n")
            written.append(name)
    print("\n".join(written))


if __name__ == "__main__":
    main()
