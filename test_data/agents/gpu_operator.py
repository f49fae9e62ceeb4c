#!/usr/bin/env python3
"""Rebuild gpu-operator-driver.yaml and gpu-operator-container-toolkit.yaml.

    python3 test_data/agents/gpu_operator.py GIT_DIR_OF_NVIDIA_GPU_OPERATOR

The GPU operator creates its operand DaemonSets itself: it reads
assets/state-*/0500_daemonset.yaml and edits them in
controllers/object_controls.go, DaemonSet() -> preProcessDaemonSet() ->
applyCommonDaemonsetConfig(), TransformDriver() / TransformToolkit(),
applyCommonDaemonsetMetadata(), then SetControllerReference, the
daemonsets.labels and the nvidia.com/last-applied-hash annotation. This script
replays, step by step, what those functions do at tag v26.7.0 with the
ClusterPolicy the chart renders from its default values (operator in namespace
gpu-operator, a GPU node running containerd on Ubuntu 24.04, CDI enabled and NRI
off as by default, not OpenShift). The two hash values the operator computes
from go-spew dumps are stood in by FNV-32a values of the object's JSON.
"""
import json
import subprocess
import sys

import yaml

TAG = "v26.7.0"
NS = "gpu-operator"
# ClusterPolicy spec.daemonsets (chart defaults; labels added by templates/clusterpolicy.yaml)
DS_LABELS = {"helm.sh/chart": "gpu-operator-v26.7.0", "app.kubernetes.io/managed-by": "gpu-operator"}
TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def asset(git_dir, path):
    return yaml.safe_load(subprocess.check_output(["git", "--git-dir=" + git_dir, "show", f"{TAG}:{path}"]))


def set_env(c, k, v):  # setContainerEnv
    for e in c.setdefault("env", []):
        if e["name"] == k:
            e["value"] = v
            return
    c["env"].append({"name": k, "value": v})


def container(pod, key, name):
    return next(c for c in pod[key] if c["name"] == name)


def fnv32a(b):
    h = 0x811C9DC5
    for x in b:
        h = ((h ^ x) * 0x01000193) & 0xFFFFFFFF
    return str(h)


def common(ds):
    ds["metadata"]["namespace"] = NS  # DaemonSet(): obj.Namespace = n.operatorNamespace
    pod = ds["spec"]["template"]["spec"]
    pod["priorityClassName"] = "system-node-critical"  # daemonsets.priorityClassName
    pod["tolerations"] = TOLERATIONS  # daemonsets.tolerations
    return pod


def finish(ds, digest_containers=()):
    ds["spec"]["template"]["metadata"]["labels"].update(DS_LABELS)  # applyCommonDaemonsetMetadata
    ds["metadata"]["labels"].update(DS_LABELS)  # DaemonSet(): daemonsets.labels on the object
    pod = ds["spec"]["template"]["spec"]
    digest = fnv32a(json.dumps(pod, sort_keys=True).encode())  # stand-in for DRIVER_CONFIG_DIGEST
    for c in digest_containers:
        set_env(c, "DRIVER_CONFIG_DIGEST", digest)
    ds["metadata"]["annotations"]["nvidia.com/last-applied-hash"] = fnv32a(json.dumps(ds, sort_keys=True).encode())
    return ds


def driver(git_dir):
    ds = asset(git_dir, "assets/state-driver/0500_daemonset.yaml")
    pod = common(ds)
    # applyUpdateStrategyConfig leaves nvidia-driver-daemonset* on the asset's OnDelete.
    mgr = container(pod, "initContainers", "k8s-driver-manager")  # transformDriverManagerInitContainer
    mgr["image"] = "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0"
    mgr["imagePullPolicy"] = "IfNotPresent"
    drv = container(pod, "containers", "nvidia-driver-ctr")  # transformDriverContainer
    drv["image"] = "nvcr.io/nvidia/driver:595.91.07-ubuntu24.04"  # resolveDriverTag: ImagePath + "-" + gpuNodeOSTag
    drv["imagePullPolicy"] = "IfNotPresent"
    set_env(drv, "KERNEL_MODULE_TYPE", "auto")  # driver.kernelModuleType (not "open": no OPEN_KERNEL_MODULES_ENABLED)
    # driver.startupProbe equals the asset's; rdma, gds, gdrcopy off and not OpenShift: the
    # transformPeerMemoryContainer / GDS / GDRCopy / OpenShiftDriverToolkit steps drop their sidecars.
    dropped = ("nvidia-peermem-ctr", "nvidia-fs-ctr", "nvidia-gdrcopy-ctr", "openshift-driver-toolkit-ctr")
    pod["containers"] = [c for c in pod["containers"] if c["name"] not in dropped]
    return finish(ds, (mgr, drv))


def toolkit(git_dir):
    ds = asset(git_dir, "assets/state-container-toolkit/0500_daemonset.yaml")
    pod = common(ds)
    # applyUpdateStrategyConfig: RollingUpdate, daemonsets.rollingUpdate.maxUnavailable "1" as an int
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    for ic in pod["initContainers"]:  # transformValidationInitContainer
        if "validation" in ic["name"]:
            ic["image"] = "nvcr.io/nvidia/gpu-operator:v26.7.0"
            ic["imagePullPolicy"] = "IfNotPresent"
            ic.setdefault("securityContext", {})["runAsUser"] = 0  # transformValidatorSecurityContext
    ctr = container(pod, "containers", "nvidia-container-toolkit-ctr")
    ctr["image"] = "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0"
    ctr["imagePullPolicy"] = "IfNotPresent"
    for k, v in [  # transformToolkitCtrForCDI
        ("CDI_ENABLED", "true"),
        ("NVIDIA_RUNTIME_SET_AS_DEFAULT", "false"),
        ("NVIDIA_CONTAINER_RUNTIME_MODE", "cdi"),
        ("CRIO_CONFIG_MODE", "config"),
        ("RUNTIME", "containerd"),  # transformForRuntime
        ("CONTAINERD_RUNTIME_CLASS", "nvidia"),
    ]:
        set_env(ctr, k, v)
    # transformRuntimeConfigAndSocketMounts with the containerd defaults
    for envs, name, target, host, typ in [
        (
            [("RUNTIME_CONFIG", "/runtime/config-dir/config.toml"), ("CONTAINERD_CONFIG", "/runtime/config-dir/config.toml")],
            "containerd-config", "/runtime/config-dir/", "/etc/containerd", "DirectoryOrCreate",
        ),
        (
            [
                ("RUNTIME_DROP_IN_CONFIG", "/runtime/config-dir.d/99-nvidia.toml"),
                ("RUNTIME_DROP_IN_CONFIG_HOST_PATH", "/etc/containerd/conf.d/99-nvidia.toml"),
            ],
            "containerd-drop-in-config", "/runtime/config-dir.d/", "/etc/containerd/conf.d", "DirectoryOrCreate",
        ),
        (
            [("RUNTIME_SOCKET", "/runtime/sock-dir/containerd.sock"), ("CONTAINERD_SOCKET", "/runtime/sock-dir/containerd.sock")],
            "containerd-socket", "/runtime/sock-dir/", "/run/containerd", None,
        ),
    ]:
        for k, v in envs:
            set_env(ctr, k, v)
        ctr["volumeMounts"].append({"name": name, "mountPath": target})
        hp = {"path": host}
        if typ:
            hp["type"] = typ
        pod["volumes"].append({"name": name, "hostPath": hp})
    return finish(ds)


HEADER = """# {what}: the DaemonSet the GPU operator creates from its asset with the default ClusterPolicy (see README.md here)
# Source: github:NVIDIA/gpu-operator {asset} at 10ee5b3638b89e11e949412aafa5ba99279c3721 (tag v26.7.0)
# Chart: gpu-operator v26.7.0 (deployments/gpu-operator, the published chart's version/appVersion
#   v26.7.0 in place of the tag's v1.0.0-devel/main-latest); its templates/clusterpolicy.yaml rendered with
#   default values gives the ClusterPolicy `cluster-policy` whose spec the operator reads.
# Rendered by hand: controllers/object_controls.go DaemonSet() -> preProcessDaemonSet() as the operator runs it
#   in namespace gpu-operator on a GPU node with containerd and Ubuntu 24.04 (gpuNodeOSTag ubuntu24.04).
#   Stand-ins: annotation nvidia.com/last-applied-hash (utils.GetObjectHash, FNV-32a of a go-spew dump) and
#   env DRIVER_CONFIG_DIGEST (GetObjectHashIgnoreEmptyKeys) are FNV-32a values of this object's JSON, not the
#   operator's exact numbers; they change nothing a policy judges. Replayed by gpu_operator.py.
"""


def main():
    git_dir = sys.argv[1]
    for what, asset_path, build in [
        ("gpu-operator-driver", "assets/state-driver/0500_daemonset.yaml", driver),
        ("gpu-operator-container-toolkit", "assets/state-container-toolkit/0500_daemonset.yaml", toolkit),
    ]:
        with open(f"{what}.yaml", "w") as f:
            f.write(HEADER.format(what=what, asset=asset_path))
            f.write("---\n" + yaml.safe_dump(build(git_dir), sort_keys=False, width=200))


if __name__ == "__main__":
    main()
