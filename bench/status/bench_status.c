/* What the status listener costs the agent.
 *
 * A child process runs the agent's observer in the agent's event loop, exactly the code
 * `run` uses, with a registry shaped like a real service's (a signing key, a TLS pair with a
 * two-certificate chain, a CA bundle, an opaque secret, notifications and rotations), and
 * the listener off or on. This program measures the child from outside:
 *   - VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) once settled, listener off
 *     and on; on, also after a scrape a second for a while (as Prometheus does);
 *   - voluntary context switches over an idle stretch (wakeups; must be 0);
 *   - on-CPU time of the child (/proc/PID/schedstat, nanoseconds) over N scrapes of
 *     /metrics on one keep-alive connection, and over N scrapes each on a new connection.
 *
 * usage: bench_status [--scrapes N] [--idle-ms MS] [--scraped-seconds S]
 */
#include "base/event_loop.h"
#include "base/log.h"
#include "observe/observer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char CERT_CMD[] = "openssl req -x509 -newkey ed25519 -nodes -keyout /dev/null "
			       "-days 200 -subj '/O=Bench/CN=%s' 2>/dev/null";

static size_t make_cert(const char *cn, char *buf, size_t size)
{
	char cmd[256];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), CERT_CMD, cn);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	n = fread(buf, 1, size, p);
	pclose(p);
	return n;
}

/* The child: an observer in a loop, until killed. Reports its port on `fd`. */
static void serve(bool listener, int fd)
{
	struct observer_opts opts = {.status_listen = listener ? "127.0.0.1:0" : NULL};
	struct ev_loop loop = {.epfd = -1};
	struct agent_error err = {0};
	struct observer obs;
	char chain[8192], ca[8192];
	size_t nchain, nca;
	unsigned port;

	log_setup(LOG_FORMAT_TEXT, LOG_ERROR);
	nchain = make_cert("api.bench.example", chain, sizeof(chain) / 2);
	nchain += make_cert("Bench Intermediate CA", chain + nchain, sizeof(chain) / 2);
	nca = make_cert("Bench Root CA", ca, sizeof(ca));
	if (ev_init(&loop) < 0 || observer_start(&obs, &loop, &opts, &err) < 0) {
		fprintf(stderr, "bench_status: %s\n", err.msg);
		_exit(1);
	}
	observer_secret_written(&obs, "signing_key", SFS_TYPE_ED25519,
				"3f2a9c01d4e5b6a7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
				NULL, 0);
	observer_secret_written(&obs, "tls_cert", SFS_TYPE_TLS_CERT,
				"9b8a7c6d5e4f30211203948576a6b5c4d3e2f1001122334455667788990aabbc",
				chain, nchain);
	observer_secret_written(&obs, "tls_key", SFS_TYPE_TLS_KEY,
				"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
				NULL, 0);
	observer_secret_written(&obs, "root_ca", SFS_TYPE_X509,
				"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
				ca, nca);
	observer_secret_written(&obs, "app_token", SFS_TYPE_OPAQUE, NULL, NULL, 0);
	observer_rotation_result(&obs, "tls_cert", ROTATION_APPLIED);
	observer_rotation_result(&obs, "root_ca", ROTATION_REJECTED);
	observer_notification(&obs, "signal", true);
	observer_ready(&obs, &err);
	port = observer_listen_port(&obs);
	if (write(fd, &port, sizeof(port)) != sizeof(port))
		_exit(1);
	close(fd);
	ev_run(&loop);
	_exit(0);
}

static long status_kb(pid_t pid, const char *file, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static unsigned long long oncpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	if (f)
		fclose(f);
	return ns;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_port(unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("bench_status: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One GET /metrics on `fd`; returns the body length, or -1. */
static long scrape(int fd)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\n"
				  "Accept: text/plain;version=0.0.4\r\n\r\n";
	static char buf[65536];
	size_t len = 0;
	long body = -1, clen = -1;
	ssize_t n;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		return -1;
	for (;;) {
		char *end, *cl;

		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (clen < 0) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			if (!cl)
				return -1;
			clen = strtol(cl + 17, NULL, 10);
		}
		body = (long)(len - (size_t)(end + 4 - buf));
		if (body >= clen)
			return clen;
	}
}

struct memory {
	long rss_kb, pss_kb, private_kb;
};

static void memory_of(pid_t pid, struct memory *m)
{
	m->rss_kb = status_kb(pid, "status", "VmRSS");
	m->pss_kb = status_kb(pid, "smaps_rollup", "Pss");
	m->private_kb = status_kb(pid, "smaps_rollup", "Private_Clean") +
			status_kb(pid, "smaps_rollup", "Private_Dirty");
}

static pid_t start_child(bool listener, unsigned *port)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0) /* not O_CLOEXEC: the child's end is inherited */
		exit(1);
	pid = fork();
	if (pid == 0) {
		char fdarg[16];

		/* A fresh image: no copy-on-write pages shared with this process skew Pss. */
		close(p[0]);
		snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
		execl("/proc/self/exe", "bench_status", "--child", listener ? "on" : "off", fdarg,
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], port, sizeof(*port)) != sizeof(*port)) {
		fprintf(stderr, "bench_status: the observer did not start\n");
		exit(1);
	}
	close(p[0]);
	return pid;
}

static void print_memory(const char *what, const struct memory *m)
{
	printf("%-34s %10ld %10ld %12ld\n", what, m->rss_kb, m->pss_kb, m->private_kb);
}

/* The real agent, `run` with an opaque secret and `sleep` as its service: its memory with
 * the listener off, with libmicrohttpd (and the TLS libraries it links) merely loaded, and
 * with --status-listen once the flag exists. Returns false when the agent did not stay up
 * (a flag it does not know yet). */
static bool measure_agent(const char *dir, const char *listen, const char *preload, long idle_ms,
			  struct memory *m, long *wakeups)
{
	char secret[512];
	pid_t pid;
	int status;
	long before;

	snprintf(secret, sizeof(secret), "name=t,from=env:BENCH_SECRET,to=%s/t,type=opaque", dir);
	pid = fork();
	if (pid == 0) {
		char *envp[] = {"PATH=/usr/bin:/bin", "BENCH_SECRET=not-a-secret",
				preload ? (char *)preload : NULL, NULL};
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(devnull, STDERR_FILENO);
		if (listen)
			execle(BENCH_AGENT, "secret-agent", "run", "--status-listen", listen,
			       "--secret", secret, "--", "sleep", "60", (char *)NULL, envp);
		else
			execle(BENCH_AGENT, "secret-agent", "run", "--secret", secret, "--",
			       "sleep", "60", (char *)NULL, envp);
		_exit(127);
	}
	/* Past the agent's one-time trim of its startup pages. */
	sleep_ms(1500);
	if (waitpid(pid, &status, WNOHANG) == pid)
		return false;
	memory_of(pid, m);
	before = status_kb(pid, "status", "voluntary_ctxt_switches");
	sleep_ms(idle_ms);
	*wakeups = status_kb(pid, "status", "voluntary_ctxt_switches") - before;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return true;
}

int main(int argc, char **argv)
{
	int scrapes = 5000, scraped_s = 5;
	long idle_ms = 2000;
	struct memory m_off, m_on, m_off_later, m_scraped;
	unsigned port = 0, port_off = 0;
	long w_off, w_on, body = 0;
	double us_keepalive, us_new_conn;
	unsigned long long t0;
	pid_t off, on;
	int fd;

	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		serve(strcmp(argv[2], "on") == 0, atoi(argv[3]));
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--scrapes") == 0)
			scrapes = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--idle-ms") == 0)
			idle_ms = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--scraped-seconds") == 0)
			scraped_s = atoi(argv[i + 1]);
	}
	if (scrapes < 1)
		scrapes = 1;
	/* Both at once, the same image: they share its pages equally, so the difference is the
	 * listener's own. */
	off = start_child(false, &port_off);
	on = start_child(true, &port);
	sleep_ms(500);
	memory_of(off, &m_off);
	memory_of(on, &m_on);
	w_off = status_kb(off, "status", "voluntary_ctxt_switches");
	w_on = status_kb(on, "status", "voluntary_ctxt_switches");
	sleep_ms(idle_ms);
	w_off = status_kb(off, "status", "voluntary_ctxt_switches") - w_off;
	w_on = status_kb(on, "status", "voluntary_ctxt_switches") - w_on;

	/* As Prometheus: one scrape a second on a kept-alive connection. */
	fd = connect_port(port);
	for (int i = 0; i < scraped_s; i++) {
		body = scrape(fd);
		sleep_ms(1000);
	}
	memory_of(off, &m_off_later);
	memory_of(on, &m_scraped);
	t0 = oncpu_ns(on);
	for (int i = 0; i < scrapes; i++)
		if (scrape(fd) < 0) {
			fprintf(stderr, "bench_status: scrape failed\n");
			exit(1);
		}
	us_keepalive = (double)(oncpu_ns(on) - t0) / 1000.0 / scrapes;
	close(fd);
	sleep_ms(100);
	t0 = oncpu_ns(on);
	for (int i = 0; i < scrapes; i++) {
		fd = connect_port(port);
		if (scrape(fd) < 0)
			exit(1);
		close(fd);
	}
	us_new_conn = (double)(oncpu_ns(on) - t0) / 1000.0 / scrapes;
	kill(off, SIGKILL);
	kill(on, SIGKILL);
	waitpid(off, NULL, 0);
	waitpid(on, NULL, 0);

	printf("observer, registry of 5 secrets (3 certificates), /metrics body %ld bytes\n", body);
	printf("%-34s %10s %10s %12s\n", "", "VmRSS KiB", "Pss KiB", "Private KiB");
	print_memory("listener off, idle", &m_off);
	print_memory("listener on, idle", &m_on);
	print_memory("listener off, later", &m_off_later);
	print_memory("listener on, scraped every 1 s", &m_scraped);
	printf("%-34s %+10ld %+10ld %+12ld   (target: < 3072 / 1024 KiB)\n", "on idle - off",
	       m_on.rss_kb - m_off.rss_kb, m_on.pss_kb - m_off.pss_kb,
	       m_on.private_kb - m_off.private_kb);
	printf("%-34s %+10ld %+10ld %+12ld\n", "on scraped - off",
	       m_scraped.rss_kb - m_off_later.rss_kb, m_scraped.pss_kb - m_off_later.pss_kb,
	       m_scraped.private_kb - m_off_later.private_kb);
	printf("wakeups over %ld ms idle: off %ld, on %ld   (target: 0)\n", idle_ms, w_off, w_on);
	printf("agent CPU per scrape over %d scrapes: %.1f us keep-alive, %.1f us new connection "
	       "each   (target: < 100 us)\n",
	       scrapes, us_keepalive, us_new_conn);

	/* The real agent. */
	{
		char dir[] = "/tmp/bench-status-XXXXXX", target[64];
		struct memory a_off, a_lib, a_on;
		long wk_off = -1, wk_lib = -1, wk_on = -1;
		bool have_off, have_lib, have_on;

		if (!mkdtemp(dir)) {
			perror("bench_status: mkdtemp");
			return 1;
		}
		have_off = measure_agent(dir, NULL, NULL, idle_ms, &a_off, &wk_off);
		have_lib = measure_agent(dir, NULL, "LD_PRELOAD=" BENCH_MHD_LIBRARY, idle_ms,
					 &a_lib, &wk_lib);
		have_on = measure_agent(dir, "127.0.0.1:0", NULL, idle_ms, &a_on, &wk_on);
		printf("\nsecret-agent run (one opaque secret, sleep as the service)\n");
		printf("%-34s %10s %10s %12s %8s\n", "", "VmRSS KiB", "Pss KiB", "Private KiB",
		       "wakeups");
		if (have_off)
			printf("%-34s %10ld %10ld %12ld %8ld\n", "as built", a_off.rss_kb,
			       a_off.pss_kb, a_off.private_kb, wk_off);
		if (have_lib)
			printf("%-34s %10ld %10ld %12ld %8ld\n", "+ libmicrohttpd loaded",
			       a_lib.rss_kb, a_lib.pss_kb, a_lib.private_kb, wk_lib);
		if (have_on)
			printf("%-34s %10ld %10ld %12ld %8ld\n", "--status-listen 127.0.0.1:0",
			       a_on.rss_kb, a_on.pss_kb, a_on.private_kb, wk_on);
		else
			printf("%-34s %s\n", "--status-listen 127.0.0.1:0",
			       "n/a (this build's run does not take the flag)");
		snprintf(target, sizeof(target), "%s/t", dir);
		unlink(target);
		rmdir(dir);
	}
	return 0;
}
