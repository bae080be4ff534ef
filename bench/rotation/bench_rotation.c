/* Rotation latency: from kubelet's `..data` rename to the service's SIGHUP handler.
 *
 * One publisher reproduces kubelet's AtomicWriter on a tmpfs volume with a fresh Ed25519 key
 * per rotation. Two services watch it at a time:
 *   agent  secret-agent run --debounce 0: validates the key, writes it atomically to its
 *          target, then signals its child; one phase per agent build (--agent, repeatable:
 *          e.g. the static and the dynamic one) and per target filesystem (tmpfs under
 *          /dev/shm, where fsync costs nothing, and the disk filesystem of /var/tmp);
 *   loop   the usual sidecar `inotifywait -m -e create,close_write,moved_to,delete DIR |
 *          while read; do kill -HUP PID; done`, which validates and writes nothing.
 * Each service is this program in --child mode: it takes SIGHUP with sigwaitinfo, notes
 * CLOCK_MONOTONIC at once, then hashes the file it serves (the agent's target, the loop's
 * source) so a signal is matched to the content in place at that moment.
 *
 * Two publisher modes:
 *   rename-only  the new timestamped dir and ..data_tmp are prepared in a sibling directory, so
 *                the rename into the volume is the only event there;
 *   slow-writer  kubelet exactly: the timestamped dir is created in the volume and the
 *                publisher spends 5 ms writing files before the switch.
 * Per rotation i: signals between the start of its publication and its rename are premature;
 * after the rename (until the next publication starts) the first one that sees the new key
 * is the delivery (its latency is reported), later ones are duplicates, ones that see another
 * content are premature; a rotation without a delivery is missed.
 *
 * Phases run one after the other in the same run, each with the loop beside the agent, so every
 * agent row has a loop row measured under the same conditions.
 *
 * usage: bench_rotation [--rotations N] [--gap-ms MS] [--agent [LABEL=]PATH]...
 *                       [--targets tmpfs,disk] [--rename-only] [--keep]
 * BENCH_ROTATION_TYPE=opaque measures the same path without key validation;
 * BENCH_ROTATION_DEBUG=1 prints every rotation's timestamps on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_AGENT
#define BENCH_AGENT "secret-agent"
#endif

#define PEM_MAX 256
#define HEX_LEN 65

struct rotation {
	char pem[PEM_MAX];
	char hex[HEX_LEN]; /* SHA-256 of the PEM */
	int64_t start_ns;  /* publication begins */
	int64_t rename_ns; /* just before ..data is switched (the earliest a reader can see it) */
};

struct record {
	int64_t ns;
	char hex[HEX_LEN];
};

struct outcome {
	double *lat_us;
	size_t delivered, missed, premature, duplicate;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000LL),
			      .tv_nsec = (long)(ns % 1000000000LL)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void hash_hex(const void *data, size_t len, char out[HEX_LEN])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, data, len);
	to_hex(d, sizeof(d), out);
}

/* An Ed25519 PKCS#8 v1 PEM, byte for byte what `openssl genpkey` writes. */
static void make_key(char pem[PEM_MAX])
{
	static const unsigned char prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
						 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
	unsigned char der[48];
	char b64[80];

	memcpy(der, prefix, sizeof(prefix));
	randombytes_buf(der + 16, 32);
	sodium_bin2base64(b64, sizeof(b64), der, sizeof(der), sodium_base64_VARIANT_ORIGINAL);
	snprintf(pem, PEM_MAX, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
	sodium_memzero(der, sizeof(der));
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* --child RECORD FILE */
static int child_main(const char *record_path, const char *file)
{
	sigset_t set;
	int record;
	char buf[4096];

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	record = open(record_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (record < 0)
		return 2;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		int64_t t = now_ns();
		char line[128], hex[HEX_LEN] = "missing";
		ssize_t n = 0;
		int fd, len;

		if (sig == SIGTERM || sig == SIGINT)
			return 0;
		if (sig != SIGHUP)
			continue;
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
			if (n >= 0)
				hash_hex(buf, (size_t)n, hex);
		}
		len = snprintf(line, sizeof(line), "%lld %s\n", (long long)t, hex);
		if (write(record, line, (size_t)len) != len)
			return 3;
	}
}

struct paths {
	char base[64], vol[128], staging[128], rec_loop[128], loop_log[128];
};

static unsigned ts_counter;

/* kubelet's AtomicWriter; `ts_dir_in` is where the timestamped dir is made (the volume,
 * or the staging sibling for rename-only). */
static void publish(const struct paths *p, struct rotation *r, bool slow)
{
	char ts_name[96], ts_path[256], link_rel[160], tmp_link[256], data_link[256], file[320];
	const char *dir = slow ? p->vol : p->staging;

	snprintf(data_link, sizeof(data_link), "%s/..data", p->vol);
	r->start_ns = now_ns();
	snprintf(ts_name, sizeof(ts_name), "..2026_11_28_18_00_00.%08u", ts_counter++);
	snprintf(ts_path, sizeof(ts_path), "%s/%s", dir, ts_name);
	if (mkdir(ts_path, 0755) < 0)
		die("mkdir timestamped dir");
	snprintf(file, sizeof(file), "%s/key.pem", ts_path);
	if (write_file(file, r->pem, strlen(r->pem)) < 0)
		die("write key");
	if (slow) {
		/* The rest of a payload, written slowly: 5 ms before the switch. */
		int k = 0;

		while (now_ns() - r->start_ns < 5000000LL) {
			snprintf(file, sizeof(file), "%s/extra-%d", ts_path, k++ % 8);
			if (write_file(file, r->hex, 64) < 0)
				die("write extra");
			sleep_ns(200000);
		}
		snprintf(link_rel, sizeof(link_rel), "%s", ts_name);
		snprintf(tmp_link, sizeof(tmp_link), "%s/..data_tmp", p->vol);
	} else {
		snprintf(link_rel, sizeof(link_rel), "../staging/%s", ts_name);
		snprintf(tmp_link, sizeof(tmp_link), "%s/..data_tmp", p->staging);
	}
	if (symlink(link_rel, tmp_link) < 0)
		die("symlink ..data_tmp");
	if (!slow)
		sleep_ns(2000000); /* nothing is watching staging; just be fair to the loop */
	r->rename_ns = now_ns();
	if (rename(tmp_link, data_link) < 0)
		die("rename ..data");
}

/* Removes the previous timestamped dir, as kubelet's last step does. */
static void cleanup_old(const struct paths *p, const char *old_target)
{
	char path[512], cmd[600];

	if (!old_target[0])
		return;
	/* "..ts" lives in the volume, "../staging/..ts" beside it: both relative to it. */
	snprintf(path, sizeof(path), "%s/%s", p->vol, old_target);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_rotation: cannot remove %s\n", path);
}

static size_t load_records(const char *path, struct record **out)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 1024;
	struct record *r = malloc(cap * sizeof(*r));
	long long ns;
	char hex[HEX_LEN];

	if (!f || !r)
		die("records");
	while (fscanf(f, "%lld %64s", &ns, hex) == 2) {
		if (n == cap && !(r = realloc(r, (cap *= 2) * sizeof(*r))))
			die("realloc");
		r[n].ns = ns;
		memcpy(r[n].hex, hex, HEX_LEN);
		n++;
	}
	fclose(f);
	*out = r;
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void analyse(const struct rotation *rot, size_t nrot, int64_t end_ns,
		    const struct record *rec, size_t nrec, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->lat_us = calloc(nrot, sizeof(double));
	for (size_t i = 0; i < nrot; i++) {
		int64_t next = i + 1 < nrot ? rot[i + 1].start_ns : end_ns;
		bool got = false;

		for (size_t k = 0; k < nrec; k++) {
			if (rec[k].ns < rot[i].start_ns || rec[k].ns >= next)
				continue;
			if (rec[k].ns < rot[i].rename_ns || strcmp(rec[k].hex, rot[i].hex) != 0) {
				o->premature++;
			} else if (!got) {
				got = true;
				o->lat_us[o->delivered++] =
				    (double)(rec[k].ns - rot[i].rename_ns) / 1e3;
			} else {
				o->duplicate++;
			}
		}
		if (!got)
			o->missed++;
	}
	qsort(o->lat_us, o->delivered, sizeof(double), cmp_double);
}

static double pct(const struct outcome *o, double p)
{
	size_t idx;

	if (!o->delivered)
		return 0;
	idx = (size_t)(p * (double)(o->delivered - 1) + 0.5);
	return o->lat_us[idx];
}

static void print_row(const char *fs, const char *label, const char *mode, const char *who,
		      const struct outcome *o)
{
	printf("%-6s %-10s %-12s %-6s %6zu %9.3f %9.3f %9.3f %7zu %9zu %9zu\n", fs, label, mode,
	       who, o->delivered, pct(o, 0.50) / 1e3, pct(o, 0.99) / 1e3,
	       o->delivered ? o->lat_us[o->delivered - 1] / 1e3 : 0.0, o->missed, o->premature,
	       o->duplicate);
}

static bool file_contains(const char *path, const char *needle)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static bool wait_until(bool (*pred)(const char *, const char *), const char *a, const char *b,
		       int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (pred(a, b))
			return true;
		sleep_ns(10000000LL);
	}
	return pred(a, b);
}

static bool exists(const char *path, const char *unused)
{
	(void)unused;
	return access(path, F_OK) == 0;
}

static pid_t spawn(char *const argv[], const char *log, bool own_group)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (own_group)
			setpgid(0, 0);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

#define MAX_AGENTS 4

struct agent_build {
	const char *label, *path;
};

/* A target filesystem for the agent's output: where the rotation's write and fsync land. */
struct target_fs {
	const char *name;
	char dir[128]; /* mkdtemp'd, removed at the end */
};

struct verdict {
	const char *fs, *label;
	double agent_p50, agent_p99, loop_p50, loop_p99;
	size_t missed;
};

static struct rotation *rot;
static size_t nrot_total;

/* One phase: one agent build writing to one filesystem, the loop beside it, every mode. */
static void run_phase(struct paths *p, const struct agent_build *ab, const struct target_fs *fs,
		      const char *type, size_t nrot, int gap_ms, bool rename_only, const char *self,
		      size_t *next_rot, struct verdict *v)
{
	char secret_arg[512], out[192], target[256], rec[192], log[192], data[192];
	pid_t agent_pid;

	snprintf(out, sizeof(out), "%s/out-%s", fs->dir, ab->label);
	snprintf(target, sizeof(target), "%s/key.pem", out);
	snprintf(rec, sizeof(rec), "%s/agent-%s-%s.record", p->base, ab->label, fs->name);
	snprintf(log, sizeof(log), "%s/agent-%s-%s.log", p->base, ab->label, fs->name);
	snprintf(secret_arg, sizeof(secret_arg),
		 "name=signing_key,from=file:%s/key.pem,to=%s,type=%s,mode=0400", p->vol, target,
		 type);
	{
		char *const args[] = {(char *)ab->path, "run", "--secret", secret_arg,
				      "--debounce",	"0",   "--",	   (char *)self,
				      "--child",	rec,   target,	   NULL};
		agent_pid = spawn(args, log, false);
	}
	if (!wait_until(file_contains, log, "event=rotation_watching", 20000) ||
	    !wait_until(exists, rec, NULL, 20000)) {
		fprintf(stderr, "bench_rotation: %s did not start; see %s\n", ab->path, log);
		exit(1);
	}
	sleep_ns(200000000LL);
	snprintf(data, sizeof(data), "%s/..data", p->vol);
	for (int mode = 0; mode < (rename_only ? 1 : 2); mode++) {
		bool slow = mode == 1;
		struct rotation *r = rot + *next_rot;
		struct record *rec_a, *rec_l;
		struct outcome oa, ol;
		size_t na, nl;
		int64_t end;

		if (*next_rot + nrot > nrot_total) {
			fprintf(stderr, "bench_rotation: out of prepared keys\n");
			exit(1);
		}
		*next_rot += nrot;
		for (size_t i = 0; i < nrot; i++) {
			char old[256] = "";
			ssize_t n = readlink(data, old, sizeof(old) - 1);

			old[n > 0 ? n : 0] = '\0';
			publish(p, &r[i], slow);
			sleep_ns((int64_t)gap_ms * 1000000LL);
			cleanup_old(p, old);
			sleep_ns(3000000LL);
		}
		sleep_ns(300000000LL);
		end = now_ns();
		na = load_records(rec, &rec_a);
		nl = load_records(p->rec_loop, &rec_l);
		analyse(r, nrot, end, rec_a, na, &oa);
		analyse(r, nrot, end, rec_l, nl, &ol);
		print_row(fs->name, ab->label, slow ? "slow-writer" : "rename-only", "agent", &oa);
		print_row(fs->name, ab->label, slow ? "slow-writer" : "rename-only", "loop", &ol);
		fflush(stdout);
		if (!slow) {
			*v = (struct verdict){.fs = fs->name,
					      .label = ab->label,
					      .agent_p50 = pct(&oa, 0.50) / 1e3,
					      .agent_p99 = pct(&oa, 0.99) / 1e3,
					      .loop_p50 = pct(&ol, 0.50) / 1e3,
					      .loop_p99 = pct(&ol, 0.99) / 1e3,
					      .missed = oa.missed};
		}
		free(rec_a);
		free(rec_l);
		free(oa.lat_us);
		free(ol.lat_us);
	}
	kill(agent_pid, SIGTERM);
	waitpid(agent_pid, NULL, 0);
}

static const char *statfs_name(const char *dir)
{
	struct statfs st;

	if (statfs(dir, &st) < 0)
		return "?";
	switch ((unsigned long)st.f_type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlay";
	default:
		return "other";
	}
}

int main(int argc, char **argv)
{
	struct agent_build agents[MAX_AGENTS];
	struct target_fs targets[2];
	struct verdict verdicts[MAX_AGENTS * 2];
	const char *type = "ed25519", *which = "tmpfs,disk";
	size_t nagents = 0, ntargets = 0, nverdicts = 0, nrot = 500, next_rot = 1;
	int gap_ms = 20;
	bool keep = false, rename_only = false;
	struct paths p;
	char self[4096], loop_script[512], loop_child_pid[16];
	pid_t loop_child, loop_pid;
	ssize_t n;

	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2], argv[3]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rotations") == 0 && i + 1 < argc) {
			nrot = (size_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc) {
			gap_ms = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--agent") == 0 && i + 1 < argc &&
			   nagents < MAX_AGENTS) {
			char *spec = argv[++i], *eq = strchr(spec, '=');

			if (eq) {
				*eq = '\0';
				agents[nagents++] = (struct agent_build){spec, eq + 1};
			} else {
				agents[nagents++] = (struct agent_build){"agent", spec};
			}
		} else if (strcmp(argv[i], "--targets") == 0 && i + 1 < argc) {
			which = argv[++i];
		} else if (strcmp(argv[i], "--rename-only") == 0) {
			rename_only = true;
		} else if (strcmp(argv[i], "--keep") == 0) {
			keep = true;
		} else {
			fprintf(stderr, "usage: bench_rotation [--rotations N] [--gap-ms MS] "
					"[--agent [LABEL=]PATH]... [--targets tmpfs,disk] "
					"[--rename-only] [--keep]\n");
			return 64;
		}
	}
	if (nagents == 0)
		agents[nagents++] = (struct agent_build){"agent", BENCH_AGENT};
	if (sodium_init() < 0)
		die("sodium_init");
	/* BENCH_ROTATION_TYPE=opaque separates validation from the rest of the path. */
	if (getenv("BENCH_ROTATION_TYPE"))
		type = getenv("BENCH_ROTATION_TYPE");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die("readlink /proc/self/exe");
	self[n] = '\0';

	snprintf(p.base, sizeof(p.base), "/dev/shm/bench-rotation-XXXXXX");
	if (!mkdtemp(p.base))
		die("mkdtemp in /dev/shm");
	chmod(p.base, 0755);
	snprintf(p.vol, sizeof(p.vol), "%s/volume", p.base);
	snprintf(p.staging, sizeof(p.staging), "%s/staging", p.base);
	snprintf(p.rec_loop, sizeof(p.rec_loop), "%s/loop.record", p.base);
	snprintf(p.loop_log, sizeof(p.loop_log), "%s/loop.log", p.base);
	if (mkdir(p.vol, 0755) < 0 || mkdir(p.staging, 0755) < 0)
		die("mkdir");
	if (strstr(which, "tmpfs")) {
		targets[ntargets].name = "tmpfs";
		snprintf(targets[ntargets].dir, sizeof(targets[0].dir), "%s/targets", p.base);
		if (mkdir(targets[ntargets].dir, 0755) < 0)
			die("mkdir targets");
		ntargets++;
	}
	if (strstr(which, "disk")) {
		snprintf(targets[ntargets].dir, sizeof(targets[0].dir),
			 "/var/tmp/bench-rotation-XXXXXX");
		if (!mkdtemp(targets[ntargets].dir))
			die("mkdtemp in /var/tmp");
		chmod(targets[ntargets].dir, 0755);
		targets[ntargets].name = statfs_name(targets[ntargets].dir);
		ntargets++;
	}

	nrot_total = 1 + nagents * ntargets * 2 * nrot;
	rot = calloc(nrot_total, sizeof(*rot));
	if (!rot)
		die("calloc");
	for (size_t i = 0; i < nrot_total; i++) {
		make_key(rot[i].pem);
		hash_hex(rot[i].pem, strlen(rot[i].pem), rot[i].hex);
	}
	/* The initial version, published kubelet's way. */
	{
		char ts[160], key[200], vis[160], data[160];

		snprintf(ts, sizeof(ts), "%s/..2026_11_28_17_59_59.initial", p.vol);
		snprintf(key, sizeof(key), "%s/key.pem", ts);
		snprintf(data, sizeof(data), "%s/..data", p.vol);
		snprintf(vis, sizeof(vis), "%s/key.pem", p.vol);
		if (mkdir(ts, 0755) < 0 || write_file(key, rot[0].pem, strlen(rot[0].pem)) < 0 ||
		    symlink("..2026_11_28_17_59_59.initial", data) < 0 ||
		    symlink("..data/key.pem", vis) < 0)
			die("initial publication");
	}

	{
		char *const args[] = {self, "--child", p.rec_loop, (char *)"", NULL};
		char src[160];

		snprintf(src, sizeof(src), "%s/key.pem", p.vol);
		((char **)args)[3] = src;
		loop_child = spawn(args, p.loop_log, false);
	}
	snprintf(loop_child_pid, sizeof(loop_child_pid), "%d", (int)loop_child);
	snprintf(loop_script, sizeof(loop_script),
		 "inotifywait -m -e create,close_write,moved_to,delete \"$1\" | "
		 "while read -r _; do kill -HUP \"$2\"; done");
	{
		char *const args[] = {"sh", "-c", loop_script, "sh", p.vol, loop_child_pid, NULL};
		loop_pid = spawn(args, p.loop_log, true);
	}
	if (!wait_until(exists, p.rec_loop, NULL, 20000) ||
	    !wait_until(file_contains, p.loop_log, "Watches established", 20000)) {
		fprintf(stderr, "bench_rotation: setup failed; see %s\n", p.loop_log);
		return 1;
	}

	printf("rotation latency: ..data rename -> SIGHUP in the service, %zu rotations per mode, "
	       "%s source on tmpfs, debounce 0\n",
	       nrot, type);
	for (size_t a = 0; a < nagents; a++)
		printf("  %-10s %s\n", agents[a].label, agents[a].path);
	printf("%-6s %-10s %-12s %-6s %6s %9s %9s %9s %7s %9s %9s\n", "target", "build", "mode",
	       "who", "n", "p50_ms", "p99_ms", "max_ms", "missed", "premature", "duplicate");
	for (size_t t = 0; t < ntargets; t++)
		for (size_t a = 0; a < nagents; a++)
			run_phase(&p, &agents[a], &targets[t], type, nrot, gap_ms, rename_only,
				  self, &next_rot, &verdicts[nverdicts++]);

	/* Targets, rename-only rows: tmpfs p50 <= 0.3 ms and p99 <= 1 ms; on disk below the
	 * loop measured beside it. */
	printf("\ntargets (rename-only):\n");
	for (size_t i = 0; i < nverdicts; i++) {
		const struct verdict *v = &verdicts[i];
		bool ok = strcmp(v->fs, "tmpfs") == 0
			      ? v->agent_p50 <= 0.3 && v->agent_p99 <= 1.0
			      : v->agent_p50 < v->loop_p50 && v->agent_p99 < v->loop_p99;

		printf("  %-6s %-10s p50 %.3f ms, p99 %.3f ms (%s) -> %s%s\n", v->fs, v->label,
		       v->agent_p50, v->agent_p99,
		       strcmp(v->fs, "tmpfs") == 0 ? "goal <= 0.300 / <= 1.000"
						   : "goal < the loop's",
		       ok && v->missed == 0 ? "met" : "MISSED",
		       v->missed ? " (rotations missed)" : "");
	}

	kill(-loop_pid, SIGTERM);
	kill(loop_child, SIGTERM);
	waitpid(loop_pid, NULL, 0);
	waitpid(loop_child, NULL, 0);
	if (!keep) {
		char cmd[256];

		for (size_t t = 0; t < ntargets; t++) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", targets[t].dir);
			if (system(cmd) != 0)
				fprintf(stderr, "bench_rotation: cannot remove %s\n",
					targets[t].dir);
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p.base);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_rotation: cannot remove %s\n", p.base);
	} else {
		printf("kept %s\n", p.base);
	}
	free(rot);
	return 0;
}
