"""Rotation under `run`: kubelet's AtomicWriter swaps, one signal per content change, invalid
versions kept out, a watched directory deleted and recreated, an overflowed inotify queue, and
a change made while the first materialization was still running.

The service is tests/helpers/rot_child: at every SIGHUP it hashes the targets and records the
digests, so the tests know exactly which set the service saw at the moment it was told.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubelet  # noqa: E402
import satest  # noqa: E402


class RotationCase(unittest.TestCase):
    def setUp(self):
        self.tmp = satest.shm_dir("sa-rot-")
        self.src = os.path.join(self.tmp, "secret-volume")
        self.out = os.path.join(self.tmp, "out")
        self.record = os.path.join(self.tmp, "record")
        self.child_pidfile = os.path.join(self.tmp, "child.pid")
        self.agent = None

    def tearDown(self):
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_run(self, secrets, targets, extra=(), prefix=()):
        args = ["run"]
        for s in secrets:
            args += ["--secret", s]
        args += list(extra)
        args += ["--", satest.ROT_CHILD, self.record, self.child_pidfile] + list(targets)
        self.agent = satest.Agent(args, self.tmp, prefix=prefix)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(self.child_pidfile), 20),
                        "the service never started:\n" + self.agent.log_text())
        return self.agent

    def stop_agent(self):
        code = self.agent.stop()
        self.agent_log = self.agent.log_text()
        self.agent = None
        return code

    def key_target(self):
        return os.path.join(self.out, "key.pem")

    def start_key_and_ca(self, pair):
        """An Ed25519 key and its CA certificate published in one kubelet-style volume and
        materialized to out/ with debounce 0. Returns the volume writer and both targets."""
        writer = kubelet.AtomicWriter(self.src)
        writer.write({"key.pem": pair[0], "ca.crt": pair[1]})
        key_t, ca_t = self.key_target(), os.path.join(self.out, "ca.crt")
        self.start_run([
            "name=key,from=file:%s/key.pem,to=%s,type=ed25519" % (self.src, key_t),
            "name=ca,from=file:%s/ca.crt,to=%s,type=x509" % (self.src, ca_t)],
            [key_t, ca_t], extra=["--debounce", "0"])
        return writer, key_t, ca_t

    def wait_target(self, path, digest, timeout=20):
        return satest.wait_for(lambda: satest.file_sha(path) == digest, timeout)


class KubeletRotation(RotationCase):
    def test_1000_kubelet_rotations_readers_and_signals_never_see_a_mixed_set(self):
        pairs = [satest.gen_key_and_cert(self.tmp, i) for i in range(12)]
        allowed_keys = {satest.sha(k) for k, _ in pairs}
        allowed_pairs = {(satest.sha(k), satest.sha(c)) for k, c in pairs}
        writer, key_t, ca_t = self.start_key_and_ca(pairs[0])
        # The canonical form of openssl's output is openssl's output.
        self.assertEqual(satest.file_sha(key_t), satest.sha(pairs[0][0]))
        self.assertEqual(satest.file_sha(ca_t), satest.sha(pairs[0][1]))

        reader = subprocess.Popen([satest.ROT_READER, key_t], stdout=subprocess.PIPE)
        self.assertEqual(reader.stdout.readline().strip(), b"ready")
        last = None
        settled = []  # (pair, record) at quiet points: the read cannot overlap a later write
        for i in range(1, 1001):
            last = pairs[i % len(pairs)]
            writer.write({"key.pem": last[0], "ca.crt": last[1]})
            # Unpaced half the time: bursts coalesce, paced swaps land mid-application.
            if i % 2:
                time.sleep(0.001 * (i % 3))
            if i % 50 == 0:
                # A quiet point: nothing is published until the agent has applied this set
                # and the child has answered. The last signal's read then happens after the
                # agent's last write, so it must show exactly this set: a service signalled
                # before both files were in place would read a mixed pair here.
                want = (satest.sha(last[0]), satest.sha(last[1]))
                self.assertTrue(self.wait_target(key_t, want[0], 60))
                self.assertTrue(self.wait_target(ca_t, want[1], 60))
                def last_pair():
                    recs = satest.records(self.record)
                    return tuple(recs[-1][2]) if recs else None
                satest.wait_for(lambda: last_pair() == want, 20)  # checked below, with the rest
                time.sleep(0.2)
                settled.append((want, last_pair()))
        self.assertTrue(self.wait_target(key_t, satest.sha(last[0]), 60))
        self.assertTrue(self.wait_target(ca_t, satest.sha(last[1]), 60))
        # The last notification's read happens after the last write.
        final = (satest.sha(last[0]), satest.sha(last[1]))
        self.assertTrue(satest.wait_for(
            lambda: satest.records(self.record) and
            tuple(satest.records(self.record)[-1][2]) == final, 20))
        reader.send_signal(signal.SIGTERM)
        out, _ = reader.communicate(timeout=30)
        self.assertEqual(self.stop_agent(), 0)

        lines = out.decode().split("\n")
        reads = int(lines[0].split()[1])
        seen = dict(l.split() for l in lines[1:] if l.strip())
        self.assertGreater(reads, 1000)
        for digest in seen:
            self.assertIn(digest, allowed_keys, "a reader saw a partial or foreign key file")
        self.assertGreater(len(seen), 1, "the reader never saw a rotation")

        recs = satest.records(self.record)
        self.assertGreater(len(recs), 0)
        allowed_certs = {c for _, c in allowed_pairs}
        for _, sig, digests in recs:
            self.assertEqual(sig, signal.SIGHUP)
            # A read that a later rotation overtook may pair neighbours; each file is whole.
            self.assertIn(digests[0], allowed_keys)
            self.assertIn(digests[1], allowed_certs)
        self.assertEqual(len(settled), 20)
        for want, got in settled:
            self.assertEqual(got, want,
                             "the service was signalled while key and certificate disagreed")
        sys.stderr.write("1000 rotations: %d reads, %d distinct keys seen, %d signals\n"
                         % (reads, len(seen), len(recs)))
        satest.assert_no_secret_bytes(self, self.agent_log, [k for k, _ in pairs])


def cert_fingerprint(pem_bytes):
    """openssl's SHA-256 certificate fingerprint, as lowercase hex without colons."""
    out = satest.openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem_bytes)
    return out.decode().strip().split("=", 1)[1].replace(":", "").lower()


def key_fingerprint(pem_bytes):
    """Hex SHA-256 of the raw Ed25519 public key."""
    spki = satest.openssl("pkey", "-pubout", "-outform", "DER", input=pem_bytes)
    return hashlib.sha256(spki[-32:]).hexdigest()


class NotificationNamesTheChange(RotationCase):
    def test_notification_logs_names_and_fingerprints_of_key_and_certificate(self):
        pairs = [satest.gen_key_and_cert(self.tmp, i) for i in range(2)]
        writer, key_t, ca_t = self.start_key_and_ca(pairs[0])
        writer.write({"key.pem": pairs[1][0], "ca.crt": pairs[1][1]})
        self.assertTrue(self.wait_target(key_t, satest.sha(pairs[1][0])))
        self.assertTrue(self.wait_target(ca_t, satest.sha(pairs[1][1])))
        self.assertTrue(satest.wait_for(lambda: "event=rotation_notified" in self.agent.log_text(),
                                        20))
        self.assertEqual(self.stop_agent(), 0)
        line = [ln for ln in self.agent_log.splitlines() if "event=rotation_notified" in ln][0]
        self.assertIn("secrets=key,ca ", line)
        self.assertIn(" fingerprints=key:%s,ca:%s " % (key_fingerprint(pairs[1][0]),
                                                       cert_fingerprint(pairs[1][1])), line)
        written = [ln for ln in self.agent_log.splitlines()
                   if "event=secret_written secret=ca " in ln]
        self.assertIn("fingerprint=%s" % cert_fingerprint(pairs[0][1]), written[0])
        satest.assert_no_secret_bytes(self, self.agent_log, [k for k, _ in pairs])


class ChangeDuringStart(RotationCase):
    def test_change_before_the_watch_is_armed_is_applied(self):
        """The key is read first; the agent then blocks reading its second secret from standard
        input. The key changes right then, before any watch exists, so no event will ever come
        for it: the agent must still notice it before the service starts, so that the service
        starts with the new key (and is not signalled for it)."""
        keys = [satest.gen_ed25519_pem() for _ in range(2)]
        writer = kubelet.AtomicWriter(self.src)
        writer.write({"key.pem": keys[0]})
        key_t, token_t = self.key_target(), os.path.join(self.out, "token")
        log_path = os.path.join(self.tmp, "agent.log")
        with open(log_path, "wb") as log:
            p = subprocess.Popen(
                satest.agent_cmd(
                    ["--debounce", "0",
                     "--secret", "name=key,from=file:%s/key.pem,to=%s,type=ed25519"
                     % (self.src, key_t),
                     "--secret", "name=token,from=-,to=%s" % token_t],
                    [satest.ROT_CHILD, self.record, self.child_pidfile, key_t]),
                env=dict(satest.BASE_ENV), stdin=subprocess.PIPE, stdout=log,
                stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path, "rb") as f:
                return f.read().decode(errors="replace")

        def blocked_on_stdin():
            # /proc/PID/syscall starts with the syscall number (0: read) and the fd (0).
            with open("/proc/%d/syscall" % p.pid) as f:
                return f.read().startswith("0 0x0 ")

        try:
            self.assertTrue(satest.wait_for(blocked_on_stdin, 20),
                            "the agent never read standard input")
            writer.write({"key.pem": keys[1]})
            p.stdin.write(b"token")
            p.stdin.close()
            self.assertTrue(satest.wait_for(lambda: os.path.exists(self.child_pidfile), 20),
                            "the service never started:\n" + log_text())
            self.assertEqual(satest.file_sha(key_t), satest.sha(keys[1]),
                             "the service started with the key replaced during the start:\n"
                             + log_text())
            time.sleep(0.3)
            self.assertEqual(satest.records(self.record), [])
            self.assertIsNone(p.poll(), log_text())
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)


class SignalsPerChange(RotationCase):
    def test_one_signal_per_content_change_none_for_same_content(self):
        keys = [satest.gen_ed25519_pem() for _ in range(4)]
        writer = kubelet.AtomicWriter(self.src)
        writer.write({"key.pem": keys[0]})
        key_t = self.key_target()
        self.start_run(["name=key,from=file:%s/key.pem,to=%s,type=ed25519" % (self.src, key_t)],
                       [key_t], extra=["--debounce", "50ms"])
        # Rotations further apart than the debounce: changes, and same-content rewrites.
        plan = [keys[1], keys[1], keys[2], keys[3], keys[3], keys[0]]
        for key in plan:
            writer.write({"key.pem": key}, force=True)
            time.sleep(0.6)
        self.assertTrue(self.wait_target(key_t, satest.sha(keys[0])))
        time.sleep(0.5)
        self.assertEqual(self.stop_agent(), 0)
        got = [d[0] for _, _, d in satest.records(self.record)]
        want = [satest.sha(k) for k in (keys[1], keys[2], keys[3], keys[0])]
        self.assertEqual(got, want, "expected exactly one SIGHUP per content change, each "
                         "after the new content was in place")
        self.assertEqual(self.agent_log.count("event=rotation_notified"), 4)

    def test_a_burst_inside_the_debounce_is_one_application_and_one_signal(self):
        keys = [satest.gen_ed25519_pem() for _ in range(6)]
        writer = kubelet.AtomicWriter(self.src)
        writer.write({"key.pem": keys[0]})
        key_t = self.key_target()
        self.start_run(["name=key,from=file:%s/key.pem,to=%s,type=ed25519" % (self.src, key_t)],
                       [key_t], extra=["--debounce", "400ms"])
        inode = os.stat(key_t).st_ino
        started = time.monotonic()
        for key in keys[1:]:
            writer.write({"key.pem": key})
            time.sleep(0.02)
        burst = time.monotonic() - started
        self.assertTrue(self.wait_target(key_t, satest.sha(keys[-1])))
        time.sleep(0.6)
        self.assertEqual(self.stop_agent(), 0)
        if burst >= 0.35:
            self.skipTest("the machine was too slow to publish a burst inside 400 ms "
                          "(%.2f s)" % burst)
        self.assertNotEqual(os.stat(key_t).st_ino, inode)
        self.assertEqual([d[0] for _, _, d in satest.records(self.record)], [satest.sha(keys[-1])],
                         "a burst of rotations inside the debounce must give one signal, "
                         "with the last version in place")
        self.assertEqual(self.agent_log.count("event=secret_written secret=key"), 2,
                         "the intermediate versions were written")

    def test_invalid_key_keeps_the_old_file_and_notifies_nobody(self):
        good1, good2 = satest.gen_ed25519_pem(), satest.gen_ed25519_pem()
        bad = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
        writer = kubelet.AtomicWriter(self.src)
        writer.write({"key.pem": good1})
        key_t = self.key_target()
        self.start_run(["name=key,from=file:%s/key.pem,to=%s,type=ed25519" % (self.src, key_t)],
                       [key_t], extra=["--debounce", "0"])
        inode = os.stat(key_t).st_ino
        writer.write({"key.pem": bad})
        self.assertTrue(self.agent.wait_log("event=rotation_rejected"),
                        self.agent.log_text())
        time.sleep(0.5)
        self.assertEqual(satest.file_sha(key_t), satest.sha(good1))
        self.assertEqual(os.stat(key_t).st_ino, inode, "the old file was rewritten")
        self.assertEqual(satest.records(self.record), [], "a signal was sent for an invalid key")
        writer.write({"key.pem": good2})
        self.assertTrue(self.wait_target(key_t, satest.sha(good2)))
        self.assertTrue(satest.wait_for(lambda: len(satest.records(self.record)) == 1, 10))
        time.sleep(0.3)
        self.assertEqual(self.stop_agent(), 0)
        recs = satest.records(self.record)
        self.assertEqual([d[0] for _, _, d in recs], [satest.sha(good2)])
        self.assertIn("secret=key", self.agent_log)
        satest.assert_no_secret_bytes(self, self.agent_log, [good1, good2])


class WatchedDirectoryLifecycle(RotationCase):
    def write_plain(self, name, data):
        tmp = os.path.join(self.src, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.src, name))

    def test_deleted_and_recreated_directory_is_watched_again(self):
        v1, v2, v3 = b"version-one\n", b"version-two\n", b"version-three\n"
        os.makedirs(self.src)
        self.write_plain("token", v1)
        target = os.path.join(self.out, "token")
        self.start_run(["name=token,from=file:%s/token,to=%s,type=opaque" % (self.src, target)],
                       [target], extra=["--debounce", "20ms"])
        shutil.rmtree(self.src)
        time.sleep(0.5)
        self.assertEqual(satest.file_sha(target), satest.sha(v1),
                         "the target went away with its source")
        os.makedirs(self.src)
        self.write_plain("token", v2)
        self.assertTrue(self.wait_target(target, satest.sha(v2)), self.agent.log_text())
        time.sleep(0.3)
        self.write_plain("token", v3)
        self.assertTrue(self.wait_target(target, satest.sha(v3)), self.agent.log_text())
        self.assertTrue(satest.wait_for(
            lambda: [d[0] for _, _, d in satest.records(self.record)][-1:] == [satest.sha(v3)], 10))
        self.assertEqual(self.stop_agent(), 0)
        got = [d[0] for _, _, d in satest.records(self.record)]
        self.assertEqual(got, [satest.sha(v2), satest.sha(v3)])

    def test_overflowed_queue_still_ends_in_the_final_state(self):
        os.makedirs(self.src)
        self.write_plain("token", b"start\n")
        target = os.path.join(self.out, "token")
        self.start_run(["name=token,from=file:%s/token,to=%s,type=opaque" % (self.src, target)],
                       [target], extra=["--debounce", "0"])
        self.assertTrue(self.agent.wait_log("event=rotation_watching"))
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            limit = int(f.read())
        if limit > 300000:
            self.skipTest("max_queued_events is %d: too many events to overflow" % limit)
        # A stopped agent reads nothing: more events than the queue holds are certain to
        # overflow it, without touching the machine-wide limit.
        pid = self.agent.pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            self.assertTrue(satest.wait_for(
                lambda: satest.proc_status(pid, "State").startswith("T"), 10))
            final = None
            for i in range(limit // 3 + 2000):  # create, close_write, delete per step
                p = os.path.join(self.src, "noise%d" % (i % 32))
                with open(p, "wb"):
                    pass
                os.unlink(p)
                if i % 1000 == 0:
                    final = b"step-%d\n" % i
                    self.write_plain("token", final)
            final = b"final\n"
            self.write_plain("token", final)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertTrue(self.agent.wait_log("event=watch_overflow"), self.agent.log_text())
        self.assertTrue(self.wait_target(target, satest.sha(final)), self.agent.log_text())
        self.assertTrue(satest.wait_for(
            lambda: [d[0] for _, _, d in satest.records(self.record)][-1:] ==
            [satest.sha(final)], 10))
        self.assertEqual(self.stop_agent(), 0)


if __name__ == "__main__":
    satest.main()
