"""The key table as the binary reports it (`check-config --list-keys`) drives the shell
completion: every key's flag is offered by the completion, and the completion offers no flag the
binary does not take. Adding a key without its completion entry fails here."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402

COMPLETION = os.path.join(satest.SOURCE_DIR, "completion", "secret-agent.bash")
# Options of the commands that are not config keys.
NOT_KEYS = {"--config", "--secret", "--help"}


def list_keys():
    r = satest.run_agent(["check-config", "--list-keys"])
    assert r.returncode == 0, r.stderr
    rows = []
    for line in r.stdout.decode().splitlines():
        fields = line.split(" ")
        assert len(fields) in (4, 5), line
        rows.append(fields)
    return rows


def completion_flags():
    with open(COMPLETION) as f:
        text = f.read()
    m = re.search(r"local common='([^']*)'", text)
    assert m, "no `local common='...'` list in %s" % COMPLETION
    return set(m.group(1).split())


class KeyListTest(satest.TempDirTestCase):
    def test_list_keys_format(self):
        rows = list_keys()
        sections = {r[0] for r in rows}
        self.assertEqual(sections, {"agent", "preflight", "secret", "dir"})
        names = [(r[0], r[1]) for r in rows]
        self.assertEqual(len(names), len(set(names)), "a key listed twice")
        for section, key, flag, value, *rest in rows:
            self.assertRegex(key, r"^[a-z_]+$")
            if flag != "-":
                self.assertEqual(flag, "--" + key.replace("_", "-"))
            self.assertTrue(value)
            self.assertIn(rest, ([], ["list"]))
        self.assertIn(["preflight", "require_env", "--require-env", "NAME...", "list"], rows)
        self.assertIn(["secret", "omit_expired", "-", "yes|no"], rows)

    def test_completion_offers_every_key_flag(self):
        flags = {r[2] for r in list_keys() if r[2] != "-"}
        offered = completion_flags()
        self.assertEqual(sorted(flags - offered), [], "key flags missing from the completion")
        self.assertEqual(sorted(offered - flags - NOT_KEYS), [],
                         "the completion offers flags the binary does not take")

    def test_every_listed_key_is_read_from_the_file(self):
        """Each [agent]/[preflight] key the binary lists is a key of the file: an empty value
        gets the key's own complaint, never "unknown key"."""
        path = os.path.join(self.tmp, "agent.ini")
        for section, key, *_ in list_keys():
            if section not in ("agent", "preflight"):
                continue
            with open(path, "w") as f:
                f.write("[%s]\n%s = @\n" % (section, key))
            r = satest.run_agent(["check-config", "--config", path])
            with self.subTest(key=key):
                self.assertNotIn(b"unknown key", r.stderr)


if __name__ == "__main__":
    satest.main()
