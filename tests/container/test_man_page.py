"""secret-agent(1) agrees with the binary (label packaging).

Compared against what the built binary prints, not against a list kept here: every subcommand
of `secret-agent --help`, every flag and exit code of each `secret-agent CMD --help` must be in
the man page; every config key the man page documents must be accepted by `check-config`, and
every key of the agent's key tables must be documented.
"""
import os
import re
import subprocess
import tempfile
import unittest

import pkgtest

FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def agent(*args):
    return subprocess.run([pkgtest.AGENT] + list(args), capture_output=True, text=True,
                          env=pkgtest.agent_env(), timeout=30)


def man_text():
    with open(pkgtest.MAN_PAGE) as f:
        return f.read()


def roff_section(roff, title):
    """The roff source of one top-level section (.SH TITLE) of the page."""
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH |\Z)" % re.escape(title), roff, re.S | re.M)
    return m.group(1) if m else ""


def subcommands():
    r = agent("--help")
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^\s+secret-agent ([a-z][a-z-]*)", r.stdout, re.M)
    return r.stdout, [n for n in dict.fromkeys(names)]


def documented_keys(roff):
    """{section: [keys]} from the CONFIGURATION section's .SS headings and key paragraphs."""
    conf = roff_section(roff, "CONFIGURATION")
    out = {}
    for m in re.finditer(r"^\.SS (.*?)\n(.*?)(?=^\.SS |\Z)", conf, re.S | re.M):
        head = m.group(1).strip().replace("\\(dq", '"').replace('\\"', '"')
        keys = re.findall(r"^\\fB([a-z_]+)\\fR = ", m.group(2), re.M)
        keys += re.findall(r", \\fB([a-z_]+)\\fR = ", m.group(2), re.M)
        out[head] = list(dict.fromkeys(keys))
    return out


# A valid value for each documented key, so check-config accepts a file using all of them.
SAMPLES = {
    "user": "root", "group": "root", "on_change": "signal:SIGHUP", "debounce": "100ms",
    "poll_interval": "0", "grace": "5s", "kill_after": "0", "hook_timeout": "30s",
    "signal_group": "no", "privileged_watcher": "no", "log_format": "text",
    "log_level": "info", "require_env": "PATH", "require_dir": "/", "wait_tcp": "127.0.0.1:1",
    "wait_any_tcp": "127.0.0.1:1", "timeout": "5s", "from": "env:PATH",
    "type": "opaque", "domain": "example.v1", "key_id": "label-1", "mode": "0400",
    "owner": "root", "scrub_env": "no", "cert": "docs_cert", "ca": "docs_ca",
    "status_listen": "127.0.0.1:9090", "ready_file": "/run/secret-agent/ready",
    "warn_days": "30", "omit_expired": "yes",
}
SPECIAL = {"domain": "docs_key", "key_id": "docs_key", "cert": "docs_tlskey", "ca": "docs_cert",
           "omit_expired": "docs_ca"}


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(pkgtest.MAN_PAGE):
            raise unittest.SkipTest("%s not built (scdoc missing?)" % pkgtest.MAN_PAGE)
        cls.roff = man_text()
        cls.top_help, cls.commands = subcommands()

    def test_subcommands_documented(self):
        self.assertGreaterEqual(len(self.commands), 5, self.top_help)
        synopsis = roff_section(self.roff, "SYNOPSIS")
        commands = roff_section(self.roff, "COMMANDS")
        for cmd in self.commands:
            with self.subTest(command=cmd):
                self.assertIn("\\fBsecret-agent %s\\fR" % cmd, synopsis)
                self.assertRegex(commands, r"(?m)^\\fB%s\\fR" % re.escape(cmd))

    def test_top_level_flags_documented(self):
        for flag in set(FLAG.findall(self.top_help)):
            with self.subTest(flag=flag):
                self.assertIn("\\fB%s\\fR" % flag, self.roff)

    def test_every_flag_documented(self):
        for cmd in self.commands:
            r = agent(cmd, "--help")
            with self.subTest(command=cmd):
                self.assertEqual(r.returncode, 0, "%s --help: %s" % (cmd, r.stderr.strip()))
                flags = set(FLAG.findall(r.stdout))
                self.assertIn("--config" if cmd != "validate" else "--type", flags)
                for flag in sorted(flags):
                    with self.subTest(flag=flag):
                        # Documented as an option (bold), not merely mentioned.
                        self.assertIn("\\fB%s\\fR" % flag, self.roff,
                                      "%s (from `%s --help`) is not in secret-agent(1)" %
                                      (flag, cmd))

    def test_exit_codes_documented(self):
        exit_section = roff_section(self.roff, "EXIT STATUS")
        self.assertTrue(exit_section)
        for cmd in self.commands:
            r = agent(cmd, "--help")
            m = re.search(r"^exit:(.*?)(?:\n\n|\Z)", r.stdout, re.S | re.M)
            if not m:
                continue
            for code in sorted(set(re.findall(r"\b(\d{1,3})\b", m.group(1))) - {"128"}):
                with self.subTest(command=cmd, code=code):
                    self.assertIn("\\fB%s\\fR" % code, exit_section)

    def test_documented_keys_accepted(self):
        keys = documented_keys(self.roff)
        self.assertEqual(sorted(keys), sorted(['[agent]', '[preflight]', '[secret "NAME"]',
                                               '[dir "PATH"]']), keys)
        with tempfile.TemporaryDirectory() as tmp:
            samples = dict(SAMPLES, to=os.path.join(tmp, "out", "docs"))
            # Keys that only apply to some types go to secrets of those types.
            extra = {"docs_key": ["type = ed25519"], "docs_ca": ["type = x509"],
                     "docs_cert": ["type = tls-cert"], "docs_tlskey": ["type = tls-key"]}
            lines = []
            for head, names in keys.items():
                section = head.replace("NAME", "docs").replace("PATH", tmp + "/d")
                lines.append(section)
                for k in names:
                    target = SPECIAL.get(k) if head.startswith("[secret") else None
                    if target:
                        extra[target].append("%s = %s" % (k, samples[k]))
                    else:
                        lines.append("%s = %s" % (k, samples.get(k, "")))
            for name, body in extra.items():
                lines += ['[secret "%s"]' % name, "from = env:PATH"] + body
            path = os.path.join(tmp, "all-keys.conf")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            r = agent("check-config", "--config", path)
            # A documented key the binary does not know is "unknown key" (78).
            self.assertNotIn("unknown key", r.stderr)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "out")), "check-config wrote")

    def test_known_keys_documented(self):
        # The other direction: every key of the agent's key table, as the binary lists it
        # (`check-config --list-keys`: SECTION KEY FLAG VALUE [list]), is documented.
        r = agent("check-config", "--list-keys")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line.split(" ") for line in r.stdout.splitlines()]
        self.assertGreater(len(rows), 20, r.stdout)
        documented = documented_keys(self.roff)
        sections = {"agent": "[agent]", "preflight": "[preflight]",
                    "secret": '[secret "NAME"]', "dir": '[dir "PATH"]'}
        for row in rows:
            section, key, flag = row[0], row[1], row[2]
            with self.subTest(section=section, key=key):
                self.assertIn(key, documented.get(sections[section], []))
                if flag != "-":
                    self.assertIn("\\fB%s\\fR" % flag, self.roff)


if __name__ == "__main__":
    pkgtest.main()
