/* Stand-in for the backend (bin/cybermesh) in the container tests: serves GET /api/v1/health on
 * 9441 and loads its CA from /app/certs/root.crt at start and again on SIGHUP, as the backend
 * reloads its TLS configuration. The health answer says what the service process is and has:
 * ids, capability lines of /proc/self/status, whether the signing key is readable (its size,
 * never a byte of it), whether the key variable is still in its environment, how many reloads it
 * made, then the CA it currently holds (public). SIGTERM ends it with $STANDIN_TERM_EXIT.
 * Built static by the test, so it runs on debian:12-slim without anything added. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_PATH	 "/app/certs/root.crt"
#define KEY_PATH "/tmp/keys/signing_key.pem"

static volatile sig_atomic_t hup, term;
static char ca[65536];
static size_t ca_len;
static unsigned reloads;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		term = 1;
}

static int load_ca(void)
{
	int fd = open(CA_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, ca, sizeof(ca));
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENODATA;
	ca_len = (size_t)n;
	return 0;
}

static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= cap)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : len + (size_t)n;
}

static size_t report(char *buf, size_t cap)
{
	char line[256];
	size_t len = 0;
	struct stat st;
	FILE *f;
	int fd;

	len = append(buf, len, cap, "status ok\nuid %u\ngid %u\n", (unsigned)getuid(),
		     (unsigned)getgid());
	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
		    !strncmp(line, "Groups", 6))
			len = append(buf, len, cap, "%s", line);
	if (f)
		fclose(f);
	fd = open(KEY_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0)
		len = append(buf, len, cap, "key readable %lld\n", (long long)st.st_size);
	else
		len = append(buf, len, cap, "key unreadable\n");
	if (fd >= 0)
		close(fd);
	len = append(buf, len, cap, "key_env %s\n",
		     getenv("BACKEND_SIGNING_KEY_CONTENT") ? "present" : "absent");
	for (const char *d = "/app/keys\0/app/logs\0"; *d; d += strlen(d) + 1) {
		char probe[64];
		snprintf(probe, sizeof(probe), "%s/.probe", d);
		fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		len = append(buf, len, cap, "writable %s %s\n", d, fd >= 0 ? "yes" : "no");
		if (fd >= 0) {
			close(fd);
			unlink(probe);
		}
	}
	len = append(buf, len, cap, "reloads %u\nca\n", reloads);
	if (len + ca_len <= cap) {
		memcpy(buf + len, ca, ca_len);
		len += ca_len;
	}
	return len;
}

static void serve(int conn)
{
	static char body[131072];
	char req[4096], head[256];
	ssize_t n = recv(conn, req, sizeof(req) - 1, 0);
	size_t len;

	if (n <= 0)
		return;
	req[n] = '\0';
	if (strncmp(req, "GET /api/v1/health ", 19) != 0) {
		const char *nf =
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		(void)!write(conn, nf, strlen(nf));
		return;
	}
	len = report(body, sizeof(body));
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 len);
	(void)!write(conn, head, strlen(head));
	(void)!write(conn, body, len);
}

int main(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9441)};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: accept returns EINTR */
	const char *code = getenv("STANDIN_TERM_EXIT");
	int one = 1, s, r;

	if ((r = load_ca()) < 0) {
		fprintf(stderr, "cybermesh: cannot load %s: %s\n", CA_PATH, strerror(-r));
		return 1;
	}
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 16) < 0) {
		fprintf(stderr, "cybermesh: cannot listen on 9441: %s\n", strerror(errno));
		return 1;
	}
	printf("cybermesh: serving on 9441 as uid %u\n", (unsigned)getuid());
	fflush(stdout);
	while (!term) {
		int conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (hup) {
			hup = 0;
			if ((r = load_ca()) < 0)
				fprintf(stderr, "cybermesh: reload failed: %s\n", strerror(-r));
			else
				printf("cybermesh: CA reloaded (%u)\n", ++reloads);
			fflush(stdout);
		}
		if (conn >= 0) {
			serve(conn);
			close(conn);
		}
	}
	printf("cybermesh: SIGTERM\n");
	fflush(stdout);
	return code ? atoi(code) : 0;
}
