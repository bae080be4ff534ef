"""The Kubernetes manifests (packaging/k8s/) against a schema, the restricted Pod Security
Standard and the contract.

No Kubernetes schema validator is packaged for Debian 12 and nothing may be fetched at test
time, so the schema part is a strict field check: every key of every object used here must be
a field of its Kubernetes API type (apps/v1 Deployment, v1 Service, v1 ConfigMap and the pod
types inside), with the value's JSON type; a typo such as `readOnlyRootFileSystem` fails. Then
every container spec against the restricted Pod Security Standard (what a namespace enforcing
it checks, plus a read-only root and /tmp/keys in memory). Then the deployment facts the agent
relies on: the CA Secret mounted as a directory (no subPath), keys from Secrets as env vars,
models read-only, an emptyDir for every directory the agent's config writes, the agent's
readiness as startup probe, liveness and readiness on different endpoints, a key id that is
checked. test_kube_play.py runs the pod templates.
"""
import configparser
import os
import re
import unittest

import pkgtest

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a skip
    yaml = None

K8S = os.path.join(pkgtest.SOURCE_DIR, "packaging", "k8s")
DOCKER = os.path.join(pkgtest.SOURCE_DIR, "packaging", "docker")

# --- a subset of the Kubernetes 1.29 OpenAPI schema: the types these manifests use ---------
# type name -> {field: type}; a type is a schema name, "str", "int", "bool", "intstr",
# "quantity", "map" (string map), ["T"] (list of T) or "obj" (free-form).
S = {
    "ObjectMeta": {"name": "str", "namespace": "str", "labels": "map", "annotations": "map"},
    "Deployment": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                   "spec": "DeploymentSpec"},
    "StatefulSet": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                    "spec": "StatefulSetSpec"},
    "StatefulSetSpec": {"replicas": "int", "selector": "LabelSelector",
                        "template": "PodTemplateSpec", "serviceName": "str",
                        "podManagementPolicy": "str", "updateStrategy": "obj",
                        "volumeClaimTemplates": "obj", "revisionHistoryLimit": "int",
                        "minReadySeconds": "int", "persistentVolumeClaimRetentionPolicy": "obj"},
    "DeploymentSpec": {"replicas": "int", "selector": "LabelSelector",
                       "template": "PodTemplateSpec", "strategy": "obj",
                       "revisionHistoryLimit": "int", "minReadySeconds": "int",
                       "progressDeadlineSeconds": "int", "paused": "bool"},
    "LabelSelector": {"matchLabels": "map", "matchExpressions": "obj"},
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {"containers": ["Container"], "initContainers": ["Container"],
                "volumes": ["Volume"], "securityContext": "PodSecurityContext",
                "automountServiceAccountToken": "bool", "serviceAccountName": "str",
                "shareProcessNamespace": "bool", "terminationGracePeriodSeconds": "int",
                "nodeSelector": "map", "affinity": "obj", "tolerations": "obj",
                "imagePullSecrets": "obj", "priorityClassName": "str",
                "enableServiceLinks": "bool", "restartPolicy": "str", "hostNetwork": "bool",
                "hostPID": "bool", "hostIPC": "bool"},
    "PodSecurityContext": {"fsGroup": "int", "fsGroupChangePolicy": "str", "runAsUser": "int",
                           "runAsGroup": "int", "runAsNonRoot": "bool",
                           "supplementalGroups": ["int"], "seccompProfile": "SeccompProfile"},
    "SeccompProfile": {"type": "str", "localhostProfile": "str"},
    "Container": {"name": "str", "image": "str", "imagePullPolicy": "str", "command": ["str"],
                  "args": ["str"], "workingDir": "str", "ports": ["ContainerPort"],
                  "env": ["EnvVar"], "envFrom": ["EnvFromSource"],
                  "resources": "ResourceRequirements", "volumeMounts": ["VolumeMount"],
                  "livenessProbe": "Probe", "readinessProbe": "Probe", "startupProbe": "Probe",
                  "securityContext": "SecurityContext", "lifecycle": "obj",
                  "terminationMessagePolicy": "str", "stdin": "bool", "tty": "bool"},
    "ContainerPort": {"name": "str", "containerPort": "int", "protocol": "str",
                      "hostPort": "int", "hostIP": "str"},
    "EnvVar": {"name": "str", "value": "str", "valueFrom": "EnvVarSource"},
    "EnvVarSource": {"secretKeyRef": "KeySelector", "configMapKeyRef": "KeySelector",
                     "fieldRef": "ObjectFieldSelector", "resourceFieldRef": "obj"},
    "KeySelector": {"name": "str", "key": "str", "optional": "bool"},
    "ObjectFieldSelector": {"fieldPath": "str", "apiVersion": "str"},
    "EnvFromSource": {"configMapRef": "EnvFromRef", "secretRef": "EnvFromRef", "prefix": "str"},
    "EnvFromRef": {"name": "str", "optional": "bool"},
    "ResourceRequirements": {"requests": "quantities", "limits": "quantities"},
    "VolumeMount": {"name": "str", "mountPath": "str", "readOnly": "bool", "subPath": "str",
                    "subPathExpr": "str", "mountPropagation": "str"},
    "Probe": {"httpGet": "HTTPGetAction", "tcpSocket": "obj", "exec": "obj", "grpc": "obj",
              "initialDelaySeconds": "int", "periodSeconds": "int", "timeoutSeconds": "int",
              "successThreshold": "int", "failureThreshold": "int",
              "terminationGracePeriodSeconds": "int"},
    "HTTPGetAction": {"path": "str", "port": "intstr", "host": "str", "scheme": "str",
                      "httpHeaders": "obj"},
    "SecurityContext": {"runAsUser": "int", "runAsGroup": "int", "runAsNonRoot": "bool",
                        "allowPrivilegeEscalation": "bool", "readOnlyRootFilesystem": "bool",
                        "privileged": "bool", "capabilities": "Capabilities",
                        "seccompProfile": "SeccompProfile", "procMount": "str"},
    "Capabilities": {"add": ["str"], "drop": ["str"]},
    "Volume": {"name": "str", "secret": "SecretVolumeSource", "emptyDir": "EmptyDirVolumeSource",
               "configMap": "obj", "persistentVolumeClaim": "PVCVolumeSource",
               "projected": "obj", "hostPath": "obj", "downwardAPI": "obj"},
    "SecretVolumeSource": {"secretName": "str", "defaultMode": "int", "items": "obj",
                           "optional": "bool"},
    "EmptyDirVolumeSource": {"medium": "str", "sizeLimit": "quantity"},
    "PVCVolumeSource": {"claimName": "str", "readOnly": "bool"},
    "Service": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                "spec": "ServiceSpec"},
    "ServiceSpec": {"selector": "map", "ports": ["ServicePort"], "type": "str",
                    "clusterIP": "str"},
    "ServicePort": {"name": "str", "port": "int", "targetPort": "intstr", "protocol": "str",
                    "nodePort": "int", "appProtocol": "str"},
    "ConfigMap": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta", "data": "map",
                  "immutable": "bool"},
}
KINDS = {("apps/v1", "Deployment"): "Deployment", ("apps/v1", "StatefulSet"): "StatefulSet",
         ("v1", "Service"): "Service", ("v1", "ConfigMap"): "ConfigMap"}
QUANTITY = re.compile(r"^[0-9.]+(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
REQUIRED = {"Container": ["name", "image"], "Volume": ["name"], "VolumeMount": ["name",
            "mountPath"], "ContainerPort": ["containerPort"], "EnvVar": ["name"],
            "ServicePort": ["port"], "DeploymentSpec": ["selector", "template"],
            "StatefulSetSpec": ["selector", "template", "serviceName"]}


def schema_errors(value, typ, path):
    """Every way `value` is not a `typ`, as strings naming the path."""
    errs = []
    if isinstance(typ, list):
        if not isinstance(value, list):
            return ["%s: expected a list" % path]
        for i, item in enumerate(value):
            errs += schema_errors(item, typ[0], "%s[%d]" % (path, i))
        return errs
    if typ == "str":
        return [] if isinstance(value, str) else ["%s: expected a string, got %r" % (path, value)]
    if typ == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else ["%s: expected an integer, got %r" % (path, value)]
    if typ == "bool":
        return [] if isinstance(value, bool) else ["%s: expected a boolean" % path]
    if typ == "intstr":
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
        return [] if ok else ["%s: expected an int or a string" % path]
    if typ == "quantity":
        ok = isinstance(value, (int, str)) and QUANTITY.match(str(value))
        return [] if ok else ["%s: not a quantity: %r" % (path, value)]
    if typ == "quantities":
        if not isinstance(value, dict):
            return ["%s: expected a map" % path]
        for k, v in value.items():
            errs += schema_errors(v, "quantity", "%s.%s" % (path, k))
        return errs
    if typ == "map":
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return ["%s: expected a map of strings to strings" % path]
        return []
    if typ == "obj":
        return []
    if not isinstance(value, dict):
        return ["%s: expected an object (%s)" % (path, typ)]
    fields = S[typ]
    for k, v in value.items():
        if k not in fields:
            errs.append("%s: unknown field %r in %s" % (path, k, typ))
        else:
            errs += schema_errors(v, fields[k], "%s.%s" % (path, k))
    for k in REQUIRED.get(typ, []):
        if k not in value:
            errs.append("%s: missing required field %r" % (path, k))
    return errs


def load(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def agent_config(service):
    """The agent config baked into the image, with every ${VAR:-default} at its default."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"),
                                   comment_prefixes=(";", "#"), interpolation=None)
    cp.read(os.path.join(DOCKER, service, "secret-agent.conf"))
    return cp


def written_dirs(cp):
    """Directories the agent writes into: [dir] sections and every secret's target's dir."""
    out = set()
    for section in cp.sections():
        m = re.match(r'^dir "(.*)"$', section)
        if m:
            out.add(m.group(1))
        elif section.startswith("secret ") and cp.has_option(section, "to"):
            out.add(os.path.dirname(cp.get(section, "to")))
    return out


# Volume types the restricted level allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(pod):
    """Every way a pod spec fails the restricted Pod Security Standard (Kubernetes 1.29), and
    this project's two additions: a read-only root filesystem and /tmp/keys in memory."""
    out = []
    psc = pod.get("securityContext", {})
    for k in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(k):
            out.append("pod: %s" % k)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for name, v in volumes.items():
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append("volume %s: type %s" % (name, sorted(kinds - RESTRICTED_VOLUMES)))
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        where = "container %s" % c["name"]

        def eff(key):
            return sc.get(key, psc.get(key))
        if eff("runAsNonRoot") is not True:
            out.append("%s: runAsNonRoot is not true" % where)
        if eff("runAsUser") in (None, 0):
            out.append("%s: runAsUser is 0 or unset" % where)
        if sc.get("privileged"):
            out.append("%s: privileged" % where)
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append("%s: allowPrivilegeEscalation is not false" % where)
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            out.append("%s: capabilities do not drop ALL" % where)
        # The level allows NET_BIND_SERVICE; these containers need nothing at all.
        if caps.get("add"):
            out.append("%s: capabilities added: %s" % (where, caps["add"]))
        seccomp = (eff("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append("%s: seccompProfile %s" % (where, seccomp))
        for p in c.get("ports", []):
            if p.get("hostPort"):
                out.append("%s: hostPort %s" % (where, p["hostPort"]))
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append("%s: readOnlyRootFilesystem is not true" % where)
        keys = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp/keys"]
        if not keys or volumes.get(keys[0]["name"], {}).get("emptyDir", {}).get(
                "medium") != "Memory":
            out.append("%s: /tmp/keys is not an emptyDir in memory" % where)
    return out


class Manifests(unittest.TestCase):
    def deployment(self, docs):
        """The one workload of a file (Deployment or StatefulSet)."""
        deps = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
        self.assertEqual(len(deps), 1)
        return deps[0]

    def container(self, docs):
        containers = self.deployment(docs)["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(containers), 1)
        return containers[0]

    def test_schema(self):
        for name in ("backend.yaml", "ai-service.yaml"):
            for doc in load(name):
                with self.subTest(file=name, kind=doc.get("kind")):
                    typ = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
                    self.assertIsNotNone(typ, "unexpected object %s/%s" % (
                        doc.get("apiVersion"), doc.get("kind")))
                    self.assertEqual(schema_errors(doc, typ, doc["kind"]), [])

    def test_schema_check_can_fail(self):
        doc = load("backend.yaml")[0]
        c = doc["spec"]["template"]["spec"]["containers"][0]
        c["securityContext"]["readOnlyRootFileSystem"] = True
        c["ports"][0]["containerPort"] = "9441"
        errs = schema_errors(doc, "StatefulSet", "StatefulSet")
        self.assertTrue(any("readOnlyRootFileSystem" in e for e in errs), errs)
        self.assertTrue(any("containerPort" in e for e in errs), errs)

    def test_restricted(self):
        for name in ("backend.yaml", "ai-service.yaml"):
            with self.subTest(file=name):
                pod = self.deployment(load(name))["spec"]["template"]["spec"]
                self.assertEqual(restricted_violations(pod), [])

    def test_restricted_check_can_fail(self):
        # What the manifests had before: a root start with six capabilities added.
        pod = self.deployment(load("backend.yaml"))["spec"]["template"]["spec"]
        sc = pod["containers"][0]["securityContext"]
        sc.update(runAsUser=0, runAsNonRoot=False)
        sc["capabilities"]["add"] = ["CHOWN", "SETUID"]
        del sc["seccompProfile"], pod["securityContext"]["seccompProfile"]
        pod["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
        errs = restricted_violations(pod)
        for what in ("runAsNonRoot", "runAsUser", "capabilities added", "seccompProfile",
                     "hostPath"):
            self.assertTrue(any(what in e for e in errs), (what, errs))

    def test_no_secret_objects(self):
        # Secrets are created by the operator (kubectl create secret ...), never committed.
        for name in ("backend.yaml", "ai-service.yaml"):
            kinds = [d["kind"] for d in load(name)]
            self.assertNotIn("Secret", kinds, name)

    def test_selectors_and_services(self):
        for name, ports in (("backend.yaml", {9441, 9100, 9442}),
                            ("ai-service.yaml", {8000, 10000, 9442})):
            docs = load(name)
            dep = self.deployment(docs)
            labels = dep["spec"]["template"]["metadata"]["labels"]
            for k, v in dep["spec"]["selector"]["matchLabels"].items():
                self.assertEqual(labels.get(k), v, name)
            c = self.container(docs)
            self.assertEqual({p["containerPort"] for p in c["ports"]}, ports, name)
            svc = [d for d in docs if d["kind"] == "Service"][0]
            for k, v in svc["spec"]["selector"].items():
                self.assertEqual(labels.get(k), v, name)
            names = {p["name"] for p in c["ports"]}
            for p in svc["spec"]["ports"]:
                self.assertIn(p["targetPort"], names | ports, name)

    def test_pod_monitors_scrape_named_ports(self):
        # Each PodMonitor selects one of the workloads above and scrapes ports its container
        # names: the agent's listener at /metrics and the service's own metrics.
        monitors = {d["metadata"]["name"]: d for d in load("monitoring.yaml")
                    if d["kind"] == "PodMonitor"}
        self.assertEqual(set(monitors), {"backend", "ai-service"})
        for name in ("backend.yaml", "ai-service.yaml"):
            docs = load(name)
            dep = self.deployment(docs)
            labels = dep["spec"]["template"]["metadata"]["labels"]
            mon = monitors[labels["app.kubernetes.io/name"]]
            for k, v in mon["spec"]["selector"]["matchLabels"].items():
                self.assertEqual(labels.get(k), v, name)
            ports = {p["name"] for p in self.container(docs)["ports"]}
            endpoints = mon["spec"]["podMetricsEndpoints"]
            self.assertIn({"port": "agent-status", "path": "/metrics", "interval": "30s"},
                          endpoints, name)
            for e in endpoints:
                self.assertIn(e["port"], ports, name)
            # The agent's listener is what the named port serves.
            cmd = self.container(docs)["command"]
            listen = cmd[cmd.index("--status-listen") + 1]
            port = [p for p in self.container(docs)["ports"] if p["name"] == "agent-status"][0]
            self.assertEqual(int(listen.rsplit(":", 1)[1]), port["containerPort"], name)

    def check_container_security(self, name, c, pod, uid):
        # Starts as the service's user: the agent writes as that user and drops nothing.
        self.assertEqual(c["securityContext"]["runAsUser"], uid, name)
        self.assertEqual(pod["securityContext"]["runAsUser"], uid, name)
        self.assertEqual(pod["securityContext"]["fsGroup"], uid, name)
        self.assertIs(pod.get("automountServiceAccountToken"), False, name)

    def check_writable_mounts(self, name, c, pod, service):
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        for d in sorted(written_dirs(agent_config(service))):
            with self.subTest(file=name, dir=d):
                self.assertIn(d, mounts, "%s: %s is written but has no volume" % (name, d))
                self.assertIn("emptyDir", volumes[mounts[d]["name"]], d)
                self.assertFalse(mounts[d].get("readOnly", False), d)
        for m in c["volumeMounts"]:
            v = volumes[m["name"]]
            # subPath mounts never see a rotation; Secrets must be whole-directory mounts.
            if "secret" in v:
                self.assertNotIn("subPath", m, name)
                self.assertIs(m.get("readOnly"), True, name)

    def check_probes(self, name, c, path, port):
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}

        def target(probe):
            get = c[probe]["httpGet"]
            return get["path"], ports.get(get["port"], get["port"])
        # The agent's status listener, given on the command line, answers the startup and
        # liveness probes; the service's own health the readiness probe.
        argv = c["command"]
        self.assertEqual(argv[:4], ["/usr/bin/secret-agent", "run", "--config",
                                    "/etc/secret-agent/%s.conf" % name])
        self.assertEqual(argv[-1], "--")
        listen = argv[argv.index("--status-listen") + 1]
        status_port = int(listen.rsplit(":", 1)[1])
        self.assertEqual(target("startupProbe"), ("/readyz", status_port), name)
        self.assertEqual(target("livenessProbe"), ("/healthz", status_port), name)
        self.assertEqual(target("readinessProbe"), (path, port), name)
        self.assertNotEqual(target("livenessProbe"), target("readinessProbe"), name)

    def test_backend(self):
        docs = load("backend.yaml")
        # A StatefulSet, governed by a headless Service.
        sts = self.deployment(docs)
        self.assertEqual(sts["kind"], "StatefulSet")
        headless = [d for d in docs if d["kind"] == "Service" and
                    d["metadata"]["name"] == sts["spec"]["serviceName"]]
        self.assertEqual(len(headless), 1)
        self.assertEqual(headless[0]["spec"].get("clusterIP"), "None")
        pod = sts["spec"]["template"]["spec"]
        c = self.container(docs)
        self.assertEqual(c["args"], ["/app/bin/cybermesh"])
        env = {e["name"]: e for e in c["env"]}
        self.check_container_security("backend", c, pod, 1000)
        self.check_writable_mounts("backend", c, pod, "backend")
        self.check_probes("backend", c, "/api/v1/health", 9441)
        ref = env["BACKEND_SIGNING_KEY_CONTENT"]["valueFrom"]["secretKeyRef"]
        self.assertTrue(ref["name"] and ref["key"])
        # The CA: a Secret volume mounted as a directory where the config reads it.
        cp = agent_config("backend")
        ca_from = cp.get('secret "cockroach_ca"', "from")
        m = re.match(r"^file:\$\{COCKROACH_CA_FILE:-(.*)\}$", ca_from)
        self.assertIsNotNone(m, ca_from)
        ca_file = env["COCKROACH_CA_FILE"]["value"] if "COCKROACH_CA_FILE" in env else m.group(1)
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = [x for x in c["volumeMounts"] if x["mountPath"] == os.path.dirname(ca_file)]
        self.assertEqual(len(mount), 1, "no mount at %s" % os.path.dirname(ca_file))
        self.assertIn("secret", volumes[mount[0]["name"]])
        self.assertNotIn("subPath", mount[0])
        self.assertEqual(cp.get('secret "cockroach_ca"', "to"), "/app/certs/root.crt")
        self.assertEqual(cp.get("agent", "on_change"), "signal:SIGHUP")

    def test_ai_service(self):
        docs = load("ai-service.yaml")
        pod = self.deployment(docs)["spec"]["template"]["spec"]
        c = self.container(docs)
        self.check_container_security("ai-service", c, pod, 1001)
        self.check_writable_mounts("ai-service", c, pod, "ai-service")
        self.check_probes("ai-service", c, "/health", 8000)
        env = {e["name"]: e for e in c.get("env", [])}
        ref = env["AI_SIGNING_KEY_CONTENT"]["valueFrom"]["secretKeyRef"]
        self.assertTrue(ref["name"] and ref["key"])
        # Every variable the agent requires is provided, directly or from the ConfigMap.
        provided = set(env)
        maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        for src in c.get("envFrom", []):
            provided |= set(maps[src["configMapRef"]["name"]]["data"])
        required = agent_config("ai-service").get("preflight", "require_env").split()
        self.assertEqual(len(required), 7)
        self.assertLessEqual(set(required), provided)
        # The key id is a fingerprint form, which the agent checks against the key; a free-form
        # label would only be warned about, leaving the check off.
        key_id = maps["ai-service"]["data"]["ED25519_SIGNING_KEY_ID"]
        self.assertRegex(key_id, r"^([0-9a-fA-F]{16,64}|[A-Za-z0-9_-]{43})$")
        # Models: mounted read-only where the preflight looks for them.
        volumes = {v["name"]: v for v in pod["volumes"]}
        models = agent_config("ai-service").get("preflight", "require_dir")
        mount = [x for x in c["volumeMounts"] if x["mountPath"] == models]
        self.assertEqual(len(mount), 1, models)
        self.assertIs(mount[0].get("readOnly"), True)
        self.assertIs(volumes[mount[0]["name"]]["persistentVolumeClaim"]["readOnly"], True)


if __name__ == "__main__":
    if yaml is None:
        pkgtest.skip("PyYAML is not installed (Debian package python3-yaml)")
    pkgtest.main()
