"""Static checks of both Dockerfiles (label packaging): there is no Docker engine here, so what
the images would run is checked from the files, and container.images runs the same layout
scripts and configs in a Debian 12 root.
"""
import json
import os
import re
import unittest

import pkgtest

DOCKER = os.path.join(pkgtest.SOURCE_DIR, "packaging", "docker")
IMAGES = {
    "backend": {"base": "debian:12-slim", "conf": "/etc/secret-agent/backend.conf",
                "ports": {"9441", "9100"}, "health": ":9441/api/v1/health",
                "user": ("cybermesh", "1000")},
    "ai-service": {"base": "python:3.11-slim-bookworm",
                   "conf": "/etc/secret-agent/ai-service.conf", "ports": {"8000", "10000"},
                   "health": ":8000/health", "user": ("aiservice", "1001")},
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
                ins = instructions(os.path.join(DOCKER, name, "Dockerfile"))
                froms = [a for i, a in ins if i == "FROM"]
                # Multi-stage: the agent is built on Debian 12; the runtime is the named base.
                self.assertGreaterEqual(len(froms), 2)
                self.assertTrue(froms[0].startswith("debian:12 "), froms[0])
                self.assertEqual(froms[-1].split()[0], want["base"])
                runtime = ins[max(k for k, (i, _) in enumerate(ins) if i == "FROM"):]
                entry = [json.loads(a) for i, a in runtime if i == "ENTRYPOINT"]
                self.assertEqual(entry, [["/usr/bin/secret-agent", "run", "--config",
                                          want["conf"], "--"]])
                cmd = [json.loads(a) for i, a in runtime if i == "CMD"]
                self.assertEqual(len(cmd), 1)
                self.assertTrue(cmd[0] and isinstance(cmd[0], list))
                exposed = set(" ".join(a for i, a in runtime if i == "EXPOSE").split())
                self.assertEqual(exposed, want["ports"])
                health = [a for i, a in runtime if i == "HEALTHCHECK"]
                self.assertEqual(len(health), 1)
                self.assertIn(want["health"], health[0])
                # The agent must start as root to chown and drop privileges itself.
                self.assertEqual([a for i, a in runtime if i == "USER"], [])
                # The .deb is what gets installed, with apt resolving its Depends.
                self.assertTrue(any("secret-agent.deb" in a and "apt-get install" in a
                                    for i, a in runtime if i == "RUN"))
                self.assertTrue(any("image-layout.sh" in a for i, a in runtime if i == "RUN"))

    def test_no_secret_material_baked_in(self):
        for name in IMAGES:
            for fname in os.listdir(os.path.join(DOCKER, name)):
                with self.subTest(file=os.path.join(name, fname)):
                    with open(os.path.join(DOCKER, name, fname)) as f:
                        text = f.read()
                    self.assertNotIn("-----BEGIN", text)
                    self.assertNotRegex(text, r"(?m)^\s*(ENV|ARG)\s+\w*(KEY|CERT|SECRET|PASSWORD)")
                    self.assertNotRegex(text, r"(?mi)^\s*(COPY|ADD)\s.*\.(pem|key|crt)\b")

    def test_layout_users(self):
        for name, want in IMAGES.items():
            with self.subTest(image=name):
                with open(os.path.join(DOCKER, name, "image-layout.sh")) as f:
                    text = f.read()
                user, uid = want["user"]
                self.assertRegex(text, r"(?s)useradd [^\n]*--uid %s .*?\b%s\n" % (uid, user))
                self.assertRegex(text, r"groupadd .*--gid %s %s" % (uid, user))

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
