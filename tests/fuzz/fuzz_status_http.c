/* libFuzzer harness: the status listener's request handling. The input is the bytes one client
 * sends on one connection (one request, several pipelined, malformed ones, oversized header
 * fields). The listener is the agent's own: an observer started once on an event loop with
 * status_listen 127.0.0.1:0, libmicrohttpd in external epoll mode behind the loop. Per input a
 * client connects, writes the input, shuts its write side down, and the loop runs (bounded,
 * no sleep) until the listener has closed the connection; the client reads what came back.
 *
 * Invariants, beyond no crash/leak/UB:
 *  - every response status line is "HTTP/1.1 NNN " with NNN one the listener or MHD sends
 *    (200 404 405 431 503 from the handler; 100 400 413 414 417 431 500 501 505 from MHD);
 *  - nothing the observer holds beside the registry reaches a response: a marker is the
 *    written secret bytes, the ready file's path and an environment value;
 *  - the connection is closed after the client's end of input within the loop bound, and the
 *    process's descriptor count returns to what it was (no connection is kept). */
#include "agent_entry.h"
#include "fuzz_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARKER	       "FUZZ-MARKER-4c1e9a"
#define MAX_TURNS      4000 /* loop turns per input */
#define MAX_IDLE_TURNS 3    /* turns of 1 ms without progress once all is sent */
#define MAX_FD_TURNS   500  /* turns for the listener to let a closed connection go */
#define MAX_RESPONSE   (1u << 20)

static struct fuzz_status *status;
static int baseline_fds;
static unsigned long inputs, kept_alive;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static void stop_status(void)
{
	if (kept_alive)
		fprintf(stderr, "status listener: %lu of %lu connections kept open, reset\n",
			kept_alive, inputs);
	fuzz_status_stop(status);
	status = NULL;
}

static void setup_listener(void)
{
	static const char *const names[] = {"signing_key", "tls.crt", "db:password"};
	char ready[4096];

	snprintf(ready, sizeof(ready), "%s/ready-" MARKER, fuzz_tmpdir());
	if (fuzz_status_start(&status, ready) < 0)
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		fuzz_status_secret(status, names[i], "3f1c0d6e9a", "-----BEGIN " MARKER,
				   sizeof("-----BEGIN " MARKER) - 1);
}

static void setup(void)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("FUZZ_STATUS_SECRET", MARKER, 1);
	setup_listener();
	atexit(stop_status);
	baseline_fds = count_fds();
}

static bool allowed_status(const char *p)
{
	static const char *const codes[] = {"100", "200", "400", "404", "405", "413", "414",
					    "417", "431", "500", "501", "503", "505"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (memcmp(p, codes[i], 3) == 0 && p[3] == ' ')
			return true;
	return false;
}

/* Every status line (the start, and each "HTTP/" after a blank line or a body the listener
 * wrote; bodies never contain "HTTP/") is an allowed one. */
static void check_response(const char *buf, size_t len)
{
	const char *p;

	if (len == 0)
		return;
	if (len < 13 || memcmp(buf, "HTTP/1.1 ", 9) != 0 || !allowed_status(buf + 9)) {
		fprintf(stderr, "bad response start: %.*s\n", (int)(len < 40 ? len : 40), buf);
		abort();
	}
	for (p = buf + 1; (p = memmem(p, len - (size_t)(p - buf), "HTTP/", 5)); p++)
		if ((size_t)(p - buf) + 13 > len || memcmp(p, "HTTP/1.1 ", 9) != 0 ||
		    !allowed_status(p + 9)) {
			fprintf(stderr, "bad status line at %zu\n", (size_t)(p - buf));
			abort();
		}
	if (memmem(buf, len, MARKER, sizeof(MARKER) - 1)) {
		fprintf(stderr, "a response carries the marker\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	static char response[MAX_RESPONSE];
	size_t sent = 0, got = 0;
	bool shut = false, eof = false;
	int fd, idle = 0, turns = 0;

	if (!status)
		setup();
	inputs++;
	/* Both answers of /readyz, decided by the input. */
	fuzz_status_set_ready(status, size % 2 == 1);
	sin.sin_port = htons(fuzz_status_port(status));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS))
		abort();
	while (!eof) {
		bool progress = false;
		ssize_t n;

		if (!shut && sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != ENOTCONN) {
				sent = size; /* the listener closed first (a refusal) */
			}
		}
		if (!shut && sent == size) {
			(void)shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (fuzz_status_run_once(status, progress ? 0 : 1) > 0)
			progress = true;
		for (;;) {
			n = recv(fd, response + got, sizeof(response) - got, 0);
			if (n > 0) {
				got += (size_t)n;
				progress = true;
				if (got == sizeof(response))
					abort();
				continue;
			}
			if (n == 0 || (n < 0 && errno != EAGAIN))
				eof = true; /* closed, or reset with our bytes unread */
			break;
		}
		idle = progress ? 0 : idle + 1;
		if (++turns > MAX_TURNS) {
			fprintf(stderr, "the listener kept the connection busy (%d turns)\n",
				turns);
			abort();
		}
		if (shut && idle > MAX_IDLE_TURNS) {
			/* The listener has nothing left to do and keeps the connection: after a
			 * complete request without "Connection: close", libmicrohttpd waits for
			 * the next one, and it does not see the end of input that came with the
			 * request, so only the idle timeout (5 s) would end it. The client gives
			 * up with a reset, which the listener must notice at once. */
			static const struct linger reset = {.l_onoff = 1, .l_linger = 0};

			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
			kept_alive++;
			break;
		}
	}
	close(fd);
	check_response(response, got);
	/* The listener's side of the connection goes within a few turns. */
	for (turns = 0; count_fds() != baseline_fds; turns++) {
		if (turns > MAX_FD_TURNS) {
			fprintf(stderr, "descriptors: %d, %d before\n", count_fds(), baseline_fds);
			abort();
		}
		fuzz_status_run_once(status, 2);
	}
	return 0;
}
