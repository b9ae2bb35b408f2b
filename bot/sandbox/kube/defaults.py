"""Defaults the apiserver fills into built-in objects (what `kubectl get -o yaml` shows back).

Only the defaults a client of this project could read back or trip over are here: Pod template
settings (restartPolicy, terminationMessagePath...), Job settings and its generated selector, Secret
`stringData`, Namespace phase and name label.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import itertools
from typing import Any

from bot.sandbox.kube.resources import ResourceType

Obj = dict[str, Any]

_service_ips = itertools.count(10)


def apply_builtin_defaults(rtype: ResourceType, obj: Obj) -> None:
    """Decode-time defaulting (SetDefaults_*): runs on create and on every update."""
    kind = rtype.kind
    spec = obj.get("spec")
    if kind == "Pod" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    elif kind == "Job" and isinstance(spec, dict):
        _default_job_spec(spec)
        template_labels = (spec.get("template", {}).get("metadata") or {}).get("labels")
        if template_labels and not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(template_labels)
    elif kind == "CronJob" and isinstance(spec, dict):
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = spec.get("jobTemplate", {}).get("spec")
        if isinstance(job_spec, dict):
            _default_job_spec(job_spec)
    elif kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        )
        _default_template(spec)
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get(
            "name", ""
        )
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")


def _default_job_spec(spec: Obj) -> None:
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _default_template(spec)


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            if not isinstance(container, dict):
                continue
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            image = str(container.get("image") or "")
            tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
            container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")
    for volume in spec.get("volumes") or []:
        for source in ("secret", "configMap"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 0o644)


def prepare_for_create(rtype: ResourceType, obj: Obj) -> None:
    """PrepareForCreate: status starts empty (or at its initial phase), Jobs get their selector."""
    if rtype.status_subresource and not rtype.is_custom:
        obj["status"] = _initial_status(obj)
    if rtype.kind == "Job" and rtype.group == "batch":
        _generate_job_selector(obj)
    if rtype.kind == "Service" and rtype.group == "":
        spec = obj.setdefault("spec", {})
        if spec.get("type") != "ExternalName" and "clusterIP" not in spec:
            address = str(ipaddress.IPv4Address("10.96.0.0") + next(_service_ips))
            spec["clusterIP"] = address
            spec["clusterIPs"] = [address]


def qos_class(pod_spec: Obj) -> str:
    """Guaranteed when every container's requests equal its cpu/memory limits, BestEffort when no
    container sets any, Burstable otherwise (the kubelet's rule, without the init-container subtleties)."""
    containers = [c for c in (pod_spec.get("containers") or []) if isinstance(c, dict)]
    resources = [c.get("resources") or {} for c in containers]
    if not any((r.get("requests") or r.get("limits")) for r in resources):
        return "BestEffort"
    for entry in resources:
        limits, requests = entry.get("limits") or {}, entry.get("requests") or {}
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                return "Burstable"
    return "Guaranteed"


def _initial_status(obj: Obj) -> Obj:
    kind = obj["kind"]
    if kind == "Pod":
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    initial: dict[str, Obj] = {
        "Namespace": {"phase": "Active"},
        "PersistentVolumeClaim": {"phase": "Pending"},
        "Service": {"loadBalancer": {}},
        # kinds whose status schema has required fields start with them at zero
        "PodDisruptionBudget": {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        },
        "StatefulSet": {"replicas": 0},
        "HorizontalPodAutoscaler": {"desiredReplicas": 0},
    }
    return dict(initial.get(kind, {}))


def _generate_job_selector(job: Obj) -> None:
    """What the Job strategy does on create: a controller-uid selector and the labels Pods will carry."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def keep_status(new: Obj, old: Obj) -> None:
    """Writes to the main resource of a kind with a status subresource leave status as it was."""
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)
