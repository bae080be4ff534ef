"""The static secret-agent is one self-contained file: no program interpreter, no needed
shared object, `file` and `ldd` agree, hardening kept (RELRO, non-executable stack, PIE), and
the stripped binary stays under 6 MB (the size of the scratch image that carries it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

AGENT = os.environ.get("SECRET_AGENT", "build/static/agent/secret-agent")
SIZE_BUDGET = 6_000_000


def tool(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


class StaticBinary(unittest.TestCase):
    def test_file_says_static(self):
        _, out = tool("file", "-b", AGENT)
        self.assertRegex(out, r"static-pie linked|statically linked", out)
        self.assertNotIn("dynamically linked", out)
        self.assertNotIn("interpreter", out)

    def test_ldd_finds_no_shared_object(self):
        rc, out = tool("ldd", AGENT)
        # ldd says "not a dynamic executable" (rc 1) for -static, "statically linked" for
        # -static-pie; never a "=>" line.
        self.assertRegex(out, r"not a dynamic executable|statically linked", out)
        self.assertNotIn("=>", out)

    def test_elf_has_no_interpreter_nor_needed(self):
        _, phdrs = tool("readelf", "-lW", AGENT)
        self.assertNotIn("INTERP", phdrs)
        self.assertIn("GNU_RELRO", phdrs)
        stack = [l for l in phdrs.splitlines() if "GNU_STACK" in l]
        self.assertEqual(len(stack), 1)
        self.assertNotIn("RWE", stack[0], "executable stack")
        _, dyn = tool("readelf", "-dW", AGENT)
        self.assertNotIn("(NEEDED)", dyn)
        if "(FLAGS_1)" in dyn:  # static-pie: PIE, bound at start (-z now)
            self.assertRegex(dyn, r"FLAGS_1\).*PIE")
            self.assertRegex(dyn, r"FLAGS_1\).*NOW")

    def test_size_under_budget_when_stripped(self):
        with tempfile.TemporaryDirectory() as d:
            stripped = os.path.join(d, "secret-agent")
            shutil.copy(AGENT, stripped)
            subprocess.run(["strip", stripped], check=True)
            size = os.path.getsize(stripped)
        print("secret-agent, stripped: %d bytes (%.2f MB)" % (size, size / 1e6))
        self.assertLess(size, SIZE_BUDGET)

    def test_runs(self):
        rc, out = tool(AGENT, "--version")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"^secret-agent \d+\.\d+\.\d+")


if __name__ == "__main__":
    if not shutil.which("file") or not shutil.which("readelf"):
        sys.stderr.write("SKIPPED: needs file and readelf (binutils)\n")
        sys.exit(77)
    unittest.main(verbosity=2)
