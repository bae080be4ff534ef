/* libFuzzer harness: TCP address lists as wait_tcp / wait_any_tcp values (host:port,
 * [v6]:port, NAME:// listener prefixes, comma and whitespace separated lists). Parsing only:
 * nothing is resolved or connected. The first byte picks the list key (odd: wait_any_tcp,
 * which also splits on commas); the rest is the value.
 *
 * Invariants, beyond no crash/leak/UB, for every address that parses:
 *   1. The port is decimal 1..65535 without a sign or leading zero; the host is not empty,
 *      has no bracket, and has a ':' or '%' only when it was written in brackets.
 *   2. Canonical round trip: "host:port", or "[host]:port" for a host with ':' or '%',
 *      parses to the same host and port, and so does it with a "PLAINTEXT://" prefix.
 */
#include "agent_entry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_address(const char *spec)
{
	char host[256], port[8], host2[256], port2[8], canon[300], msg[512];
	unsigned long v;
	char *end;

	if (fuzz_tcp_address(spec, host, port, msg, sizeof(msg)) < 0)
		return;
	v = strtoul(port, &end, 10);
	if (port[0] < '1' || port[0] > '9' || *end || v < 1 || v > 65535)
		abort();
	if (!host[0] || strpbrk(host, "[]") || (strpbrk(host, ":%") && !strchr(spec, '[')))
		abort();
	snprintf(canon, sizeof(canon), strpbrk(host, ":%") ? "[%s]:%s" : "%s:%s", host, port);
	if (fuzz_tcp_address(canon, host2, port2, msg, sizeof(msg)) < 0 || strcmp(host, host2) ||
	    strcmp(port, port2))
		abort();
	snprintf(canon, sizeof(canon),
		 strpbrk(host, ":%") ? "PLAINTEXT://[%s]:%s" : "PLAINTEXT://%s:%s", host, port);
	if (fuzz_tcp_address(canon, host2, port2, msg, sizeof(msg)) < 0 || strcmp(host, host2) ||
	    strcmp(port, port2))
		abort();
}

/* The preflight splits each stored item again on commas and whitespace. */
static void each_item(const char *item, void *ctx)
{
	char *copy = strdup(item), *save = NULL;

	(void)ctx;
	if (!copy)
		abort();
	for (char *w = strtok_r(copy, ", \t\r\n\v\f", &save); w;
	     w = strtok_r(NULL, ", \t\r\n\v\f", &save))
		check_address(w);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value;
	bool commas;

	if (size == 0)
		return 0;
	commas = data[0] & 1;
	value = malloc(size);
	if (!value)
		abort();
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	check_address(value);
	fuzz_tcp_list(value, commas, each_item, NULL);
	free(value);
	return 0;
}
