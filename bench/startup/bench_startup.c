/* Startup benchmark of `secret-agent run` (prints figures; not a test).
 *
 *   bench_startup [-n ITERATIONS] [-i IDLE_SECONDS] [-a [LABEL=]AGENT]... [-s STAMP_CHILD]
 *                 [AGENT [STAMP_CHILD]]
 *
 * Every -a adds one agent build (e.g. -a static=build/static/agent/secret-agent -a
 * dynamic=build/release/agent/secret-agent): its rows sit beside the others', measured in the
 * same run. Without -a, the agent of this build directory is measured.
 *
 * 1. Time from the exec of the launcher to the first instruction of the child (stamp_child
 *    prints CLOCK_MONOTONIC first thing; the launcher's exec time is taken in the forked
 *    process just before execve and shared through an anonymous shared page): the plain
 *    child, `tini -s --`, `tini-static -s --`, `catatonit --`, and `secret-agent run` with 0,
 *    1, 10 and 100 secrets (one Ed25519 key and one CA bundle among them, the rest opaque) and
 *    10 opaque ones. Cases are interleaved run by run so that machine noise hits them alike;
 *    median and p10..p90 are printed, and the median CPU time (user + system, from wait4:
 *    the launcher and the children it reaped) of a whole run, which a busy machine
 *    disturbs much less than the wall-clock figures.
 * 2. The AI service's whole entrypoint job: 7 required env vars, models dir, Redis (all) and
 *    Kafka (any) TCP checks against local listeners, the Ed25519 key from an env var
 *    validated and written 0400 for the service user, privileges dropped, service exec'd;
 *    beside an equivalent bash entrypoint (openssl pkey validates, setpriv drops).
 * 3. Idle cost of each agent while its child sleeps: VmRSS, Pss (smaps_rollup), voluntary
 *    context switches over IDLE_SECONDS (default 10), beside tini.
 * 4. The targets, for each agent: 10 secrets <= tini + 1 ms, 0 secrets <= tini-static +
 *    0.5 ms, AI job >= 15x faster than bash, VmRSS <= 3 MiB, Pss <= 1 MiB; and its size.
 *
 * Test keys and certificates are generated here with the openssl CLI into a temporary
 * directory that is removed at the end. Run as root for the privilege drop (--user nobody);
 * as another user the drop is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 512

struct argv_builder {
	char *v[MAX_ARGS];
	int n;
};

struct bench_case {
	const char *name;
	struct argv_builder args;
	char **envp;
	long long *samples;
	long long *cpu; /* user + system time of the launcher and what it reaped, ns */
	int nsamples;
};

static long long *shared_t0;
static char workdir[] = "/tmp/sa-bench-XXXXXX";
static int redis_fd = -1, kafka_fd = -1;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_startup: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

__attribute__((format(printf, 1, 2))) static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static void add(struct argv_builder *b, char *arg)
{
	if (b->n >= MAX_ARGS - 1)
		die("too many arguments");
	b->v[b->n++] = arg;
	b->v[b->n] = NULL;
}

__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		die("setup command failed (%d): %s", r, cmd);
	free(cmd);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		die("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		die("cannot read %s", path);
	fclose(f);
	return buf;
}

static int listener(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 512) < 0)
		die("cannot listen on 127.0.0.1: %s", strerror(errno));
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

/* The probes' connections are accepted and closed so the backlog never fills. */
static void drain_listeners(void)
{
	int fds[2] = {redis_fd, kafka_fd};

	for (int i = 0; i < 2; i++) {
		int c;
		while ((c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(c);
	}
}

/* One launch: fork, stamp the time, exec; the child's stdout carries its own stamp. Returns
 * the difference in ns, or -1 when the launcher failed. */
static long long measure_once(struct bench_case *c, long long *cpu_ns)
{
	struct rusage ru;
	char buf[256];
	size_t got = 0;
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		*shared_t0 = now_ns();
		execve(c->args.v[0], c->args.v, c->envp);
		_exit(127);
	}
	close(pipefd[1]);
	while (got < sizeof(buf) - 1 && (n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(pipefd[0]);
	wait4(pid, &status, 0, &ru);
	drain_listeners();
	if (cpu_ns)
		*cpu_ns = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			  ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got == 0)
		return -1;
	return strtoll(buf, NULL, 10) - *shared_t0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void stats(struct bench_case *c, double *median, double *p10, double *p90)
{
	qsort(c->samples, (size_t)c->nsamples, sizeof(long long), cmp_ll);
	*median = (double)c->samples[c->nsamples / 2] / 1000.0;
	*p10 = (double)c->samples[c->nsamples / 10] / 1000.0;
	*p90 = (double)c->samples[(c->nsamples * 9) / 10] / 1000.0;
}

static void run_cases(struct bench_case *cases, int ncases, int iterations)
{
	for (int i = 0; i < ncases; i++) {
		cases[i].samples = calloc((size_t)iterations, sizeof(long long));
		cases[i].cpu = calloc((size_t)iterations, sizeof(long long));
		cases[i].nsamples = 0;
		/* A first run fills caches and writes the targets; it is not counted. */
		if (measure_once(&cases[i], NULL) < 0)
			die("case '%s' failed (run it by hand to see why)", cases[i].name);
	}
	for (int it = 0; it < iterations; it++) {
		for (int i = 0; i < ncases; i++) {
			long long cpu = 0, d = measure_once(&cases[i], &cpu);
			if (d < 0)
				die("case '%s' failed at run %d", cases[i].name, it);
			cases[i].cpu[cases[i].nsamples] = cpu;
			cases[i].samples[cases[i].nsamples++] = d;
		}
	}
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* `validated`: secret 0 is an Ed25519 key and secret 1 a CA bundle; the rest are opaque. */
static void agent_case(struct bench_case *c, const char *label, const char *agent,
		       const char *stamp, int nsecrets, bool validated, char **envp)
{
	c->name = xprintf("%s, %d secret%s%s", label, nsecrets, nsecrets == 1 ? "" : "s",
			  validated || nsecrets == 0 ? "" : " (opaque)");
	c->envp = envp;
	add(&c->args, (char *)agent);
	add(&c->args, "run");
	if (is_root()) {
		add(&c->args, "--user");
		add(&c->args, "nobody");
	}
	for (int i = 0; i < nsecrets; i++) {
		int kind = validated ? i : 2;
		const char *type = kind == 0 ? ",type=ed25519" : kind == 1 ? ",type=x509" : "";
		const char *src = kind == 0   ? xprintf("%s/sec/key.pem", workdir)
				  : kind == 1 ? xprintf("%s/sec/ca.pem", workdir)
					      : xprintf("%s/sec/src/s%03d", workdir, i);
		add(&c->args, "--secret");
		add(&c->args, xprintf("name=s%03d,from=file:%s,to=%s/out-%s-%d%s/s%03d%s", i, src,
				      workdir, label, nsecrets, validated ? "" : "o", i, type));
	}
	add(&c->args, "--");
	add(&c->args, (char *)stamp);
}

static double cpu_median_us(struct bench_case *c)
{
	qsort(c->cpu, (size_t)c->nsamples, sizeof(long long), cmp_ll);
	return (double)c->cpu[c->nsamples / 2] / 1000.0;
}

static void print_case(struct bench_case *c, double tini, double tini_static)
{
	double med, p10, p90;

	stats(c, &med, &p10, &p90);
	printf("  %-40s %9.1f us  [p10 %8.1f .. p90 %8.1f]  cpu %7.1f", c->name, med, p10, p90,
	       cpu_median_us(c));
	if (tini > 0)
		printf("  %+8.1f vs tini, %+8.1f vs tini-static", med - tini, med - tini_static);
	printf("\n");
}

static double median_us(struct bench_case *c)
{
	double med, p10, p90;

	stats(c, &med, &p10, &p90);
	return med;
}

static const char *const ai_vars[] = {"NODE_ID",
				      "ENVIRONMENT",
				      "KAFKA_BOOTSTRAP_SERVERS",
				      "REDIS_HOST",
				      "REDIS_PORT",
				      "ED25519_SIGNING_KEY_ID",
				      "ED25519_DOMAIN_SEPARATION"};

static char **ai_env(const char *key_pem)
{
	char **env = calloc(16, sizeof(char *));
	int n = 0;

	env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[n++] = "NODE_ID=ai-node-1";
	env[n++] = "ENVIRONMENT=bench";
	env[n++] = xprintf("KAFKA_BOOTSTRAP_SERVERS=PLAINTEXT://127.0.0.1:%d", port_of(kafka_fd));
	env[n++] = "REDIS_HOST=127.0.0.1";
	env[n++] = xprintf("REDIS_PORT=%d", port_of(redis_fd));
	env[n++] = "ED25519_SIGNING_KEY_ID=bench-key-1";
	env[n++] = "ED25519_DOMAIN_SEPARATION=cybermesh.ai.v1";
	env[n++] = xprintf("AI_SIGNING_KEY_CONTENT=%s", key_pem);
	env[n++] = xprintf("MODELS_DIR=%s/app/data/models", workdir);
	env[n++] = xprintf("KEY_DIR=%s/ai-bash/keys", workdir);
	env[n] = NULL;
	return env;
}

static void ai_agent_case(struct bench_case *c, const char *label, const char *agent,
			  const char *stamp, char **envp)
{
	char *require_env = xprintf("%s %s %s %s %s %s %s", ai_vars[0], ai_vars[1], ai_vars[2],
				    ai_vars[3], ai_vars[4], ai_vars[5], ai_vars[6]);

	c->name = xprintf("%s (AI entrypoint job)", label);
	c->envp = envp;
	add(&c->args, (char *)agent);
	add(&c->args, "run");
	if (is_root()) {
		add(&c->args, "--user");
		add(&c->args, "nobody");
	}
	add(&c->args, "--require-env");
	add(&c->args, require_env);
	add(&c->args, "--require-dir");
	add(&c->args, xprintf("%s/app/data/models", workdir));
	add(&c->args, "--wait-tcp");
	add(&c->args, xprintf("127.0.0.1:%d", port_of(redis_fd)));
	add(&c->args, "--wait-any-tcp");
	add(&c->args, xprintf("PLAINTEXT://127.0.0.1:%d", port_of(kafka_fd)));
	add(&c->args, "--timeout");
	add(&c->args, "5s");
	add(&c->args, "--secret");
	add(&c->args,
	    xprintf("name=signing_key,from=env:AI_SIGNING_KEY_CONTENT,to=%s/ai-agent-%s/keys/"
		    "signing_key.pem,type=ed25519,domain=cybermesh.ai.v1,mode=0400",
		    workdir, label));
	add(&c->args, "--");
	add(&c->args, (char *)stamp);
}

/* What such a service's entrypoint does without the agent. */
static const char bash_entrypoint[] =
    "#!/bin/bash\n"
    "set -euo pipefail\n"
    "for v in NODE_ID ENVIRONMENT KAFKA_BOOTSTRAP_SERVERS REDIS_HOST REDIS_PORT "
    "ED25519_SIGNING_KEY_ID ED25519_DOMAIN_SEPARATION; do\n"
    "  if [ -z \"${!v:-}\" ]; then echo \"Required environment variable $v is not set\" >&2; "
    "exit 78; fi\n"
    "done\n"
    "[ -d \"$MODELS_DIR\" ] || { echo \"Model directory not found: $MODELS_DIR\" >&2; exit 69; "
    "}\n"
    "timeout 5 bash -c \"exec 3<>/dev/tcp/$REDIS_HOST/$REDIS_PORT\" || { echo \"Cannot connect "
    "to Redis at $REDIS_HOST:$REDIS_PORT (timeout 5s)\" >&2; exit 69; }\n"
    "ok=0\n"
    "IFS=, read -ra brokers <<< \"$KAFKA_BOOTSTRAP_SERVERS\"\n"
    "for b in \"${brokers[@]}\"; do\n"
    "  b=${b#*://}; h=${b%:*}; p=${b##*:}\n"
    "  if timeout 5 bash -c \"exec 3<>/dev/tcp/$h/$p\"; then ok=1; break; fi\n"
    "done\n"
    "[ \"$ok\" = 1 ] || { echo \"Cannot reach any Kafka broker in $KAFKA_BOOTSTRAP_SERVERS\" "
    ">&2; exit 69; }\n"
    "umask 077\n"
    "mkdir -p \"$KEY_DIR\"\n"
    "tmp=$(mktemp \"$KEY_DIR/.signing_key.XXXXXX\")\n"
    "printf '%s\\n' \"$AI_SIGNING_KEY_CONTENT\" > \"$tmp\"\n"
    "openssl pkey -in \"$tmp\" -noout 2>/dev/null || { rm -f \"$tmp\"; echo \"invalid signing "
    "key\" >&2; exit 65; }\n"
    "chmod 0400 \"$tmp\"\n"
    "if [ \"$(id -u)\" = 0 ]; then chown nobody:nogroup \"$tmp\" \"$KEY_DIR\"; fi\n"
    "mv -f \"$tmp\" \"$KEY_DIR/signing_key.pem\"\n"
    "unset AI_SIGNING_KEY_CONTENT\n"
    "if [ \"$(id -u)\" = 0 ]; then\n"
    "  exec setpriv --reuid=nobody --regid=nogroup --init-groups --inh-caps=-all "
    "--bounding-set=-all --no-new-privs -- \"$@\"\n"
    "fi\n"
    "exec \"$@\"\n";

static void bash_case(struct bench_case *c, const char *stamp, char **envp)
{
	char *path = xprintf("%s/entrypoint.sh", workdir);
	FILE *f = fopen(path, "w");

	if (!f || fputs(bash_entrypoint, f) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
	chmod(path, 0755);
	c->name = "bash entrypoint (same job)";
	c->envp = envp;
	add(&c->args, "/bin/bash");
	add(&c->args, path);
	add(&c->args, (char *)stamp);
}

struct idle_figures {
	long rss_kib, pss_kib, vcs_before, vcs_after, nvcs_before, nvcs_after;
};

static long status_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Starts `args` with the child sleeping; returns the launcher pid once the child runs. */
static pid_t start_sleeping(struct argv_builder *args, char **envp)
{
	char buf[64];
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execve(args->v[0], args->v, envp);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], buf, sizeof(buf)) <= 0)
		die("%s did not start its child", args->v[0]);
	close(pipefd[0]);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

#define MAX_AGENTS 8

/* All launchers at once, children sleeping: the same idle period for every one. */
static void idle_measure(struct argv_builder *args, int n, char **envp, int seconds,
			 struct idle_figures *figs)
{
	struct {
		pid_t pid;
		struct idle_figures *fig;
	} both[MAX_AGENTS + 1];

	for (int i = 0; i < n; i++) {
		both[i].pid = start_sleeping(&args[i], envp);
		both[i].fig = &figs[i];
	}
	/* Let startup work settle (page faults of the first loop iteration). */
	sleep(1);
	for (int i = 0; i < n; i++) {
		both[i].fig->rss_kib = status_kib(both[i].pid, "status", "VmRSS");
		both[i].fig->pss_kib = status_kib(both[i].pid, "smaps_rollup", "Pss");
		both[i].fig->vcs_before =
		    status_kib(both[i].pid, "status", "voluntary_ctxt_switches");
		both[i].fig->nvcs_before =
		    status_kib(both[i].pid, "status", "nonvoluntary_ctxt_switches");
	}
	sleep((unsigned)seconds);
	for (int i = 0; i < n; i++) {
		both[i].fig->vcs_after =
		    status_kib(both[i].pid, "status", "voluntary_ctxt_switches");
		both[i].fig->nvcs_after =
		    status_kib(both[i].pid, "status", "nonvoluntary_ctxt_switches");
	}
	for (int i = 0; i < n; i++)
		stop(both[i].pid);
}

static void print_idle(const char *name, const struct idle_figures *f, int seconds)
{
	printf("  %-32s VmRSS %5ld KiB  Pss %5ld KiB  context switches in %d s: %ld voluntary, "
	       "%ld involuntary\n",
	       name, f->rss_kib, f->pss_kib, seconds, f->vcs_after - f->vcs_before,
	       f->nvcs_after - f->nvcs_before);
}

struct agent_build {
	const char *label, *path;
};

enum { PLAIN, TINI, TINI_STATIC, CATATONIT, NFIXED };
enum { A0, A1, A10, A10_OPAQUE, A100, NPERAGENT };

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
	const char *stamp = BENCH_STAMP_CHILD;
	struct agent_build agents[MAX_AGENTS];
	int nagents = 0, iterations = 100, idle_seconds = 10, opt, ncases;
	char *plain_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	struct bench_case startup[NFIXED + MAX_AGENTS * NPERAGENT] = {0};
	struct bench_case ai[MAX_AGENTS + 1] = {0};
	struct argv_builder idle_args[MAX_AGENTS + 1] = {0};
	struct idle_figures idle[MAX_AGENTS + 1];
	double tini_med, tini_static_med, ai_bash;
	char **aienv;
	char *key_pem;

	while ((opt = getopt(argc, argv, "n:i:a:s:")) != -1) {
		if (opt == 'n') {
			iterations = atoi(optarg);
		} else if (opt == 'i') {
			idle_seconds = atoi(optarg);
		} else if (opt == 'a' && nagents < MAX_AGENTS) {
			char *eq = strchr(optarg, '=');

			if (eq) {
				*eq = '\0';
				agents[nagents++] = (struct agent_build){optarg, eq + 1};
			} else {
				agents[nagents++] = (struct agent_build){"secret-agent", optarg};
			}
		} else if (opt == 's') {
			stamp = optarg;
		} else {
			die("usage: bench_startup [-n ITERATIONS] [-i IDLE_SECONDS] "
			    "[-a [LABEL=]AGENT]... [-s STAMP] [AGENT [STAMP]]");
		}
	}
	if (iterations < 10)
		iterations = 10;
	if (optind < argc && nagents < MAX_AGENTS)
		agents[nagents++] = (struct agent_build){"secret-agent", argv[optind++]};
	if (optind < argc)
		stamp = argv[optind++];
	if (nagents == 0)
		agents[nagents++] = (struct agent_build){"secret-agent", BENCH_AGENT};
	shared_t0 = mmap(NULL, sizeof(long long), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_t0 == MAP_FAILED || !mkdtemp(workdir))
		die("setup failed: %s", strerror(errno));
	chmod(workdir, 0755);
	redis_fd = listener();
	kafka_fd = listener();

	/* Test material, generated now, never stored. */
	/* Sources one level down: rotation also watches the parent of each source directory,
	 * and /tmp itself is busy with everyone's temporary files. */
	sh("cd %s && mkdir -p sec/src app/data/models && cd sec && "
	   "openssl genpkey -algorithm ed25519 -out key.pem 2>/dev/null && "
	   "openssl req -x509 -newkey ed25519 -nodes -keyout /dev/null -subj /CN=bench-ca "
	   "-days 30 -addext basicConstraints=critical,CA:TRUE "
	   "-addext keyUsage=critical,keyCertSign,cRLSign -out ca.pem 2>/dev/null && "
	   "for i in $(seq -w 0 99); do head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' "
	   "> src/s0$i; done && chmod 0644 key.pem ca.pem src/*",
	   workdir);
	key_pem = read_file(xprintf("%s/sec/key.pem", workdir));

	startup[PLAIN] = (struct bench_case){.name = "plain child", .envp = plain_env};
	add(&startup[PLAIN].args, (char *)stamp);
	startup[TINI] = (struct bench_case){.name = "tini -s --", .envp = plain_env};
	add(&startup[TINI].args, "/usr/bin/tini");
	add(&startup[TINI].args, "-s");
	add(&startup[TINI].args, "--");
	add(&startup[TINI].args, (char *)stamp);
	startup[TINI_STATIC] = (struct bench_case){.name = "tini-static -s --", .envp = plain_env};
	add(&startup[TINI_STATIC].args, "/usr/bin/tini-static");
	add(&startup[TINI_STATIC].args, "-s");
	add(&startup[TINI_STATIC].args, "--");
	add(&startup[TINI_STATIC].args, (char *)stamp);
	startup[CATATONIT] = (struct bench_case){.name = "catatonit --", .envp = plain_env};
	add(&startup[CATATONIT].args, "/usr/bin/catatonit");
	add(&startup[CATATONIT].args, "--");
	add(&startup[CATATONIT].args, (char *)stamp);
	for (int a = 0; a < nagents; a++) {
		struct bench_case *c = &startup[NFIXED + a * NPERAGENT];
		const char *l = agents[a].label, *path = agents[a].path;

		agent_case(&c[A0], l, path, stamp, 0, false, plain_env);
		agent_case(&c[A1], l, path, stamp, 1, true, plain_env);
		agent_case(&c[A10], l, path, stamp, 10, true, plain_env);
		agent_case(&c[A10_OPAQUE], l, path, stamp, 10, false, plain_env);
		agent_case(&c[A100], l, path, stamp, 100, true, plain_env);
	}
	ncases = NFIXED + nagents * NPERAGENT;

	aienv = ai_env(key_pem);
	for (int a = 0; a < nagents; a++)
		ai_agent_case(&ai[a], agents[a].label, agents[a].path, stamp, aienv);
	bash_case(&ai[nagents], stamp, aienv);

	printf("secret-agent startup benchmark (%d runs per case, %s)\n", iterations,
	       is_root() ? "as root, --user nobody" : "not root: no privilege drop");
	for (int a = 0; a < nagents; a++)
		printf("  %-12s %s (%ld bytes)\n", agents[a].label, agents[a].path,
		       file_size(agents[a].path));
	printf("\n");
	run_cases(startup, ncases, iterations);
	printf("exec of the launcher -> first instruction of the child (median)\n");
	tini_med = median_us(&startup[TINI]);
	tini_static_med = median_us(&startup[TINI_STATIC]);
	for (int i = 0; i < ncases; i++)
		print_case(&startup[i], i >= TINI ? tini_med : 0, tini_static_med);

	run_cases(ai, nagents + 1, iterations / 2 < 10 ? 10 : iterations / 2);
	printf("\nAI service entrypoint job (7 env vars, models dir, Redis + Kafka connects, "
	       "Ed25519 key validated and written, drop, exec)\n");
	for (int a = 0; a <= nagents; a++)
		print_case(&ai[a], 0, 0);
	ai_bash = median_us(&ai[nagents]);
	for (int a = 0; a < nagents; a++)
		printf("  bash / %s: %.1fx\n", agents[a].label, ai_bash / median_us(&ai[a]));

	for (int a = 0; a < nagents; a++) {
		struct bench_case *c10 = &startup[NFIXED + a * NPERAGENT + A10];

		for (int i = 0; i < c10->args.n; i++)
			add(&idle_args[a], c10->args.v[i]);
		add(&idle_args[a], "sleep");
	}
	add(&idle_args[nagents], "/usr/bin/tini");
	add(&idle_args[nagents], "-s");
	add(&idle_args[nagents], "--");
	add(&idle_args[nagents], (char *)stamp);
	add(&idle_args[nagents], "sleep");
	idle_measure(idle_args, nagents + 1, plain_env, idle_seconds, idle);
	printf("\nidle, child sleeping (agents with 10 secrets)\n");
	for (int a = 0; a < nagents; a++)
		print_idle(agents[a].label, &idle[a], idle_seconds);
	print_idle("tini -s", &idle[nagents], idle_seconds);

	printf("\ntargets\n");
	for (int a = 0; a < nagents; a++) {
		const struct idle_figures *f = &idle[a];
		double m10 = median_us(&startup[NFIXED + a * NPERAGENT + A10]);
		double m0 = median_us(&startup[NFIXED + a * NPERAGENT + A0]);
		double x = ai_bash / median_us(&ai[a]);

		printf("  %s: 10 secrets <= tini + 1000 us: %s (%+.1f us); 0 secrets <= "
		       "tini-static + 500 us: %s (%+.1f us); AI job >= 15x faster than bash: %s "
		       "(%.1fx); VmRSS <= 3072 KiB: %s (%ld); Pss <= 1024 KiB: %s (%ld); no idle "
		       "wakeups: %s; size %ld bytes\n",
		       agents[a].label, m10 - tini_med <= 1000.0 ? "met" : "MISSED", m10 - tini_med,
		       m0 - tini_static_med <= 500.0 ? "met" : "MISSED", m0 - tini_static_med,
		       x >= 15.0 ? "met" : "MISSED", x, f->rss_kib <= 3072 ? "met" : "MISSED",
		       f->rss_kib, f->pss_kib <= 1024 ? "met" : "MISSED", f->pss_kib,
		       f->vcs_after == f->vcs_before ? "met" : "MISSED", file_size(agents[a].path));
	}
	sh("rm -rf %s", workdir);
	return 0;
}
