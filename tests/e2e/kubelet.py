"""Kubernetes' AtomicWriter (pkg/volume/util/atomic_writer.go), reproduced step by step.

A Secret volume is a symlink farm: each visible name is a symlink `NAME -> ..data/NAME`,
`..data` is a symlink to a timestamped directory `..YYYY_MM_DD_HH_MM_SS.<random>` holding the
real files. An update never touches a file a reader has open: it

  1. reads the current `..data` target (the old timestamped dir),
  2. creates a new timestamped dir and writes every payload file into it,
  3. creates a symlink `..data_tmp -> <new dir name>`,
  4. renames `..data_tmp` over `..data` (the one atomic switch),
  5. creates the visible `NAME -> ..data/NAME` symlinks that do not exist yet,
  6. removes visible names no longer in the payload,
  7. removes the old timestamped dir.

Like kubelet, a payload identical to the current one still produces a whole new timestamped
dir when `force` is set (kubelet rewrites on every sync when a projection changed); tests use
that to make same-content rotations.
"""
import os
import shutil
import tempfile
import time

DATA = "..data"
DATA_TMP = "..data_tmp"


class AtomicWriter:
    def __init__(self, target_dir, mode=0o644, pre_switch_delay=0.0):
        self.target_dir = target_dir
        self.mode = mode
        # Seconds spent after writing the payload and before the switch (a slow publisher).
        self.pre_switch_delay = pre_switch_delay
        os.makedirs(target_dir, exist_ok=True)

    def _old_ts_dir(self):
        try:
            return os.readlink(os.path.join(self.target_dir, DATA))
        except FileNotFoundError:
            return None

    def _current_payload(self, old):
        if not old:
            return None
        current = {}
        base = os.path.join(self.target_dir, old)
        for name in os.listdir(base):
            with open(os.path.join(base, name), "rb") as f:
                current[name] = f.read()
        return current

    def write(self, payload, force=False):
        """Publishes `payload` ({name: bytes}). Returns False when nothing had to change."""
        for name in payload:
            if "/" in name or name.startswith(".."):
                raise ValueError("invalid payload name %r" % name)
        old = self._old_ts_dir()                                           # step 1
        if not force and self._current_payload(old) == payload:
            return False
        prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        ts_dir = tempfile.mkdtemp(prefix=prefix, dir=self.target_dir)      # step 2
        os.chmod(ts_dir, 0o755)
        for name, data in payload.items():
            path = os.path.join(ts_dir, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, self.mode)
        if self.pre_switch_delay:
            time.sleep(self.pre_switch_delay)
        tmp_link = os.path.join(self.target_dir, DATA_TMP)
        os.symlink(os.path.basename(ts_dir), tmp_link)                     # step 3
        os.rename(tmp_link, os.path.join(self.target_dir, DATA))           # step 4
        for name in payload:                                               # step 5
            visible = os.path.join(self.target_dir, name)
            if not os.path.islink(visible):
                os.symlink(os.path.join(DATA, name), visible)
        if old:                                                            # step 6
            for entry in os.listdir(self.target_dir):
                if entry.startswith(".."):
                    continue
                if entry not in payload and os.path.islink(os.path.join(self.target_dir, entry)):
                    os.unlink(os.path.join(self.target_dir, entry))
            shutil.rmtree(os.path.join(self.target_dir, old), ignore_errors=True)  # step 7
        return True
