"""Each manifest's pod template run by `podman kube play` (label container; needs root).

Podman 4.3 plays Pods, Deployments and ConfigMaps with hostPath and emptyDir volumes, not
StatefulSets or Secret volumes. So the test derives a Pod from each template (kind, metadata and
the template's spec) and replaces each Secret volume with a hostPath directory it lays out as
kubelet does and rotates (tests/e2e/kubelet.py), and each PersistentVolumeClaim with a hostPath
directory it fills; the containers' specs are played as written. Secrets referenced by env vars
are podman secrets holding the Secret's data map, which is how podman resolves secretKeyRef.
ConfigMaps are the manifest's, with Redis and Kafka pointed at the test's listeners. The pods
use the host's network (`--network host`), so the probes' endpoints answer on 127.0.0.1 (and
the containers' `ports`, which map nothing there and which podman then refuses, are dropped).

While the agent in the image has no --status-listen yet, the flag and the probes that use it
are left out, and the test says so on stderr.
"""
import base64
import copy
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import pkgtest
import podman
import servicerepo
from test_images import Listener, ed25519_key_id, gen_cert, gen_ed25519, pem_body
from test_podman_images import (CAPS, Redis, children, http_get, proc_status, wait_health)

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a skip
    yaml = None

sys.path.insert(0, os.path.join(pkgtest.SOURCE_DIR, "tests", "e2e"))
from kubelet import AtomicWriter  # noqa: E402

K8S = os.path.join(pkgtest.SOURCE_DIR, "packaging", "k8s")
TMP = None
STATUS_LISTEN = None  # whether the agent in the images has --status-listen


def load(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def workload(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")][0]


def derive_pod(doc, host_dirs):
    """A Pod from a workload's template: its name and labels, the template's spec with the
    Secret and PVC volumes replaced by hostPath directories (host_dirs: volume -> path)."""
    spec = copy.deepcopy(doc["spec"]["template"]["spec"])
    for v in spec["volumes"]:
        if "secret" in v or "persistentVolumeClaim" in v:
            path = host_dirs[v["name"]]
            for k in ("secret", "persistentVolumeClaim"):
                v.pop(k, None)
            v["hostPath"] = {"path": path, "type": "Directory"}
    for c in spec["containers"]:
        # On the host's network a containerPort maps nothing, and podman 4.3 refuses the
        # pod ("PortMappings can only be used with Bridge or slirp4netns networking").
        c.pop("ports", None)
    if not STATUS_LISTEN:
        for c in spec["containers"]:
            argv = c["command"]
            i = argv.index("--status-listen")
            del argv[i:i + 2]
            for probe in ("startupProbe", "livenessProbe"):
                c.pop(probe, None)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": doc["metadata"]["name"],
                         "labels": doc["spec"]["template"]["metadata"]["labels"]},
            "spec": spec}


def secret_data(data):
    """A Secret's data as podman 4.3 reads it for secretKeyRef: a JSON object of base64 values
    (the `data` map of a Kubernetes Secret)."""
    return {k: base64.b64encode(v).decode() for k, v in data.items()}


class KubePlayTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kube-", dir=TMP)
        os.chmod(self.dir, 0o755)
        self.secrets = []
        self.played = []

    def tearDown(self):
        for path in self.played:
            podman.run("kube", "down", path, check=False)
        for name in self.secrets:
            podman.run("secret", "rm", name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def secret(self, name, data):
        """A podman secret holding a Secret's data (what secretKeyRef reads)."""
        path = os.path.join(self.dir, "secret-%s.json" % name)
        with open(path, "w") as f:
            json.dump(secret_data(data), f)
        os.chmod(path, 0o600)
        podman.run("secret", "rm", name, check=False)
        podman.run("secret", "create", name, path)
        os.unlink(path)
        self.secrets.append(name)

    def play(self, pod, configmaps=()):
        path = os.path.join(self.dir, "%s-pod.yaml" % pod["metadata"]["name"])
        with open(path, "w") as f:
            yaml.safe_dump(pod, f)
        argv = ["kube", "play", "--network", "host", "--replace"]
        for i, cm in enumerate(configmaps):
            cm_path = os.path.join(self.dir, "configmap-%d.yaml" % i)
            with open(cm_path, "w") as f:
                yaml.safe_dump(cm, f)
            argv += ["--configmap", cm_path]
        podman.run(*(argv + [path]))
        self.played.append(path)
        return "%s-%s" % (pod["metadata"]["name"], pod["spec"]["containers"][0]["name"])

    def wait_exit(self, name, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = podman.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                            name).stdout.split()
            if st[0] in ("exited", "stopped"):
                return int(st[1])
            time.sleep(0.2)
        self.fail("%s still running; log:\n%s" % (name, self.logs(name)[-3000:]))

    def logs(self, name):
        r = podman.run("logs", name, check=False)
        return r.stdout + r.stderr

    def assertNoSecretIn(self, text, *pems):
        data = text.encode()
        for pem in pems:
            body = pem_body(pem)
            for i in range(0, max(1, len(body) - 32), 16):
                self.assertNotIn(body[i:i + 32], data, "secret material in the output")

    def assertRestrictedProcess(self, name, uid):
        """PID 1 and the service, from the host: the pod's user, no capability at all."""
        agent = int(podman.run("inspect", "--format", "{{.State.Pid}}", name).stdout)
        for pid, what in ((agent, "agent"), (children(agent)[0], "service")):
            st = proc_status(pid)
            self.assertEqual(st["Uid"].split(), [str(uid)] * 4, what)
            for cap in CAPS:
                self.assertEqual(st[cap], "0000000000000000", "%s of the %s" % (cap, what))
            self.assertEqual(st["NoNewPrivs"], "1", what)
            self.assertEqual(st["Seccomp"], "2", "%s: no seccomp filter" % what)
        self.assertEqual(podman.run("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}",
                                    name).stdout.strip(), "true")
        # readOnlyRootFilesystem, as the container sees it. (/tmp/keys is not checked for
        # tmpfs: podman 4.3 plays an emptyDir with medium: Memory as a disk volume.)
        root = [l.split() for l in podman.run("exec", name, "cat", "/proc/mounts").stdout
                .splitlines() if l.split()[1] == "/"]
        self.assertEqual(len(root), 1)
        self.assertIn("ro", root[0][3].split(","))


class Backend(KubePlayTest):
    def test_pod_template(self):
        docs = load("backend.yaml")
        key = gen_ed25519()
        ca1, ca2 = gen_cert(TMP, "cockroach-ca-1"), gen_cert(TMP, "cockroach-ca-2")
        ca_dir = os.path.join(self.dir, "cockroachdb-ca")
        writer = AtomicWriter(ca_dir, mode=0o444)
        os.chmod(ca_dir, 0o755)
        writer.write({"ca.crt": ca1})
        self.secret("backend-signing-key", {"key.pem": key})
        pod = derive_pod(workload(docs), {"cockroach-ca": ca_dir})
        name = self.play(pod)
        body = wait_health(9441, "/api/v1/health", name)
        self.assertTrue(body.partition(b"\nca\n")[2] == ca1)
        self.assertIn(b"\nuid 1000\n", body)
        self.assertIn(b"writable /app/keys yes", body)
        self.assertIn(b"writable /app/logs yes", body)
        self.assertRestrictedProcess(name, 1000)
        if STATUS_LISTEN:
            self.assertEqual(http_get(9442, "/readyz")[0], 200)
        # kubelet's rotation of the Secret volume reaches the backend as SIGHUP.
        writer.write({"ca.crt": ca2})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = http_get(9441, "/api/v1/health")[1]
            if b"\nreloads 1\n" in body:
                break
            time.sleep(0.2)
        self.assertIn(b"\nreloads 1\n", body, self.logs(name)[-3000:])
        self.assertTrue(body.partition(b"\nca\n")[2] == ca2)
        self.assertNoSecretIn(self.logs(name), key)


class AIService(KubePlayTest):
    def setUp(self):
        super().setUp()
        self.redis = Redis()
        self.kafka = Listener()

    def tearDown(self):
        super().tearDown()
        self.redis.stop()
        self.kafka.close()

    def configmap(self, docs, **over):
        cm = copy.deepcopy([d for d in docs if d["kind"] == "ConfigMap"][0])
        cm["data"].update(REDIS_HOST="127.0.0.1", REDIS_PORT=str(self.redis.port),
                          KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:%d" % self.kafka.port, **over)
        return cm

    def test_pod_template(self):
        docs = load("ai-service.yaml")
        key = gen_ed25519()
        dirs = {}
        for v in ("models", "datasets"):
            dirs[v] = os.path.join(self.dir, v)
            os.mkdir(dirs[v], 0o755)
        self.secret("ai-signing-key", {"key.pem": key})
        pod = derive_pod(workload(docs), dirs)

        # The manifest's key id placeholder, deployed unchanged: the agent refuses the key.
        name = self.play(pod, [self.configmap(docs)])
        self.assertEqual(self.wait_exit(name), 65, self.logs(name)[-3000:])
        self.assertRegex(self.logs(name), r"key id 0000000000000000 does not match")
        self.assertNotIn("ai-service: serving", self.logs(name))
        self.assertNoSecretIn(self.logs(name), key)
        podman.run("kube", "down", self.played.pop())

        # The key's own id: the checks pass, the key is written, the service runs as 1001.
        name = self.play(pod, [self.configmap(docs, ED25519_SIGNING_KEY_ID=ed25519_key_id(key))])
        health = json.loads(wait_health(8000, "/health", name))
        self.assertEqual((health["uid"], health["gid"]), (1001, 1001))
        public = pkgtest.openssl("pkey", "-pubout", "-outform", "DER", input=key)[-32:]
        self.assertEqual(bytes.fromhex(health["public_key"]), public)
        self.assertEqual(health["writable"], {"/app/data": True, "/app/logs": True,
                                              "/tmp/keys": True})
        self.assertRestrictedProcess(name, 1001)
        r = podman.run("exec", name, "stat", "-c", "%u %a", "/tmp/keys/signing_key.pem")
        self.assertEqual(r.stdout.split(), ["1001", "400"])
        if STATUS_LISTEN:
            self.assertEqual(http_get(9442, "/readyz")[0], 200)
        self.assertNoSecretIn(self.logs(name), key)


def main():
    global TMP, STATUS_LISTEN
    pkgtest.require_root("podman with runc and cgroupfs")
    if yaml is None:
        pkgtest.skip("PyYAML is not installed (Debian package python3-yaml)")
    servicerepo.check_environment()
    TMP = tempfile.mkdtemp(prefix="sa-kube-")
    os.chmod(TMP, 0o755)
    import test_podman_images
    test_podman_images.TMP = TMP  # Redis keeps its (empty) working directory there
    try:
        servicerepo.build_all(TMP)
        r = podman.run("run", "--rm", "--network", "none", "--entrypoint",
                       "/usr/bin/secret-agent", servicerepo.BACKEND_IMAGE, "run", "--help",
                       check=False)
        STATUS_LISTEN = "--status-listen" in r.stdout + r.stderr
        if not STATUS_LISTEN:
            sys.stderr.write("NOTE: the agent has no --status-listen yet: the pods run without "
                             "it and without the startup and liveness probes that use it\n")
        prog = unittest.main(verbosity=2, exit=False, argv=sys.argv)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
