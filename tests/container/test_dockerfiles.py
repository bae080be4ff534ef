"""Static checks of both Dockerfiles (label packaging): what an air-gapped builder and the
services' repository need from them, read from the files. test_podman_images.py builds and runs
them for real.
"""
import json
import os
import re
import unittest

import pkgtest

DOCKER = os.path.join(pkgtest.SOURCE_DIR, "packaging", "docker")
IMAGES = {
    "backend": {"base": "debian:12-slim", "conf": "/etc/secret-agent/backend.conf",
                "ports": {"9441", "9100"}, "cmd": ["/app/bin/cybermesh"],
                "user": ("cybermesh", "1000"),
                # Build context docker/backend/: paths are relative to it.
                "copies": {"secret-agent.conf", "bin/cybermesh"}},
    "ai-service": {"base": "python:3.11-slim", "conf": "/etc/secret-agent/ai-service.conf",
                   "ports": {"8000", "10000"}, "cmd": ["python", "main.py"],
                   "user": ("aiservice", "1001"),
                   # Build context: the repository's root.
                   "copies": {"docker/ai-service/secret-agent.conf", "ai-service/",
                              "ai-service/requirements.txt"}},
}


def instructions(path):
    """(INSTRUCTION, argument) pairs with continuation lines joined and comments dropped."""
    out, buf = [], ""
    with open(path) as f:
        for line in f:
            if line.lstrip().startswith("#") and not buf:
                continue
            line = line.rstrip("\n")
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            if buf.strip():
                word, _, rest = buf.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            buf = ""
    return out


class Dockerfiles(unittest.TestCase):
    def test_images(self):
        for name, want in IMAGES.items():
            with self.subTest(image=name):
                path = os.path.join(DOCKER, name, "Dockerfile")
                with open(path) as f:
                    text = f.read()
                # A `# syntax=` line makes BuildKit fetch a frontend image from a registry.
                self.assertNotRegex(text, r"(?mi)^#\s*syntax\s*=")
                ins = instructions(path)
                # The agent image by a global build arg, through a named stage: no builder
                # expands a variable inside `COPY --from=`.
                self.assertEqual(ins[0][0], "ARG")
                self.assertRegex(ins[0][1], r"^SECRET_AGENT_IMAGE=\S+$")
                froms = [a for i, a in ins if i == "FROM"]
                self.assertEqual(froms, ["${SECRET_AGENT_IMAGE} AS secret-agent", want["base"]])
                runtime = ins[max(k for k, (i, _) in enumerate(ins) if i == "FROM"):]
                copies = [a for i, a in runtime if i == "COPY"]
                self.assertIn("--from=secret-agent /secret-agent /usr/bin/secret-agent",
                              copies)
                sources = {a.split()[0] for a in copies if not a.startswith("--")}
                self.assertEqual(sources, want["copies"])
                entry = [json.loads(a) for i, a in runtime if i == "ENTRYPOINT"]
                self.assertEqual(entry, [["/usr/bin/secret-agent", "run", "--config",
                                          want["conf"], "--"]])
                cmd = [json.loads(a) for i, a in runtime if i == "CMD"]
                self.assertEqual(cmd, [want["cmd"]])
                exposed = set(" ".join(a for i, a in runtime if i == "EXPOSE").split())
                self.assertEqual(exposed, want["ports"])
                # Root by default (the agent drops to the user itself); --user works too.
                self.assertEqual([a for i, a in runtime if i == "USER"], [])
                runs = " ".join(a for i, a in runtime if i == "RUN")
                # Nothing installed for a health check; the agent is not a package here.
                self.assertNotRegex(runs, r"\b(apt-get|apt|dpkg)\b")
                self.assertNotIn("curl", text)
                user, uid = want["user"]
                self.assertRegex(runs, r"groupadd [^&]*--gid %s %s\b" % (uid, user))
                self.assertRegex(runs, r"useradd [^&]*--uid %s --gid %s [^&]*\b%s\b" % (
                    uid, uid, user))

    def test_no_secret_material_baked_in(self):
        for name in IMAGES:
            for fname in os.listdir(os.path.join(DOCKER, name)):
                with self.subTest(file=os.path.join(name, fname)):
                    with open(os.path.join(DOCKER, name, fname)) as f:
                        text = f.read()
                    self.assertNotIn("-----BEGIN", text)
                    self.assertNotRegex(text, r"(?m)^\s*(ENV|ARG)\s+(?!SECRET_AGENT_IMAGE=)"
                                        r"\w*(KEY|CERT|SECRET|PASSWORD)")
                    self.assertNotRegex(text, r"(?mi)^\s*(COPY|ADD)\s.*\.(pem|key|crt)\b")

    def test_configs_use_image_user(self):
        for name, want in IMAGES.items():
            with self.subTest(image=name):
                with open(os.path.join(DOCKER, name, "secret-agent.conf")) as f:
                    text = f.read()
                self.assertRegex(text, r"(?m)^user = %s$" % want["user"][0])
                for owner in re.findall(r"(?m)^owner = (\S+)", text):
                    self.assertEqual(owner, want["user"][0])


if __name__ == "__main__":
    pkgtest.main()
