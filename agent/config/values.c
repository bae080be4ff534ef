/* Parsing and printing of typed values: durations, modes, signals, booleans, numbers,
 * listening addresses. */
#include "config/values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Units a duration may carry; a bare number is only accepted for 0, because "5" could mean
 * seconds or milliseconds and a wrong guess is a silent 1000x error. */
static const struct {
	const char *suffix;
	uint64_t ms;
} duration_units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};

int config_parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t n = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\0') {
		if (n != 0)
			return -EINVAL;
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(p, duration_units[i].suffix) == 0) {
			if (n > UINT64_MAX / duration_units[i].ms)
				return -EINVAL;
			*out = n * duration_units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

void config_format_duration(uint64_t ms, char *buf, size_t bufsize)
{
	if (ms == 0)
		snprintf(buf, bufsize, "0");
	else if (ms % 3600000 == 0)
		snprintf(buf, bufsize, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, bufsize, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, bufsize, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, bufsize, "%" PRIu64 "ms", ms);
}

int config_parse_mode(const char *s, mode_t *out)
{
	unsigned long v = 0;
	size_t len = strlen(s);

	/* Always octal, with or without the leading 0: "400" is never decimal 400. */
	if (len == 0 || len > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 07777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

int config_parse_signal(const char *s, int *out)
{
	const char *name = s;

	if (*s == '\0')
		return -EINVAL;
	if (isdigit((unsigned char)*s)) {
		char *end;
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || *end || v < 1 || v >= NSIG)
			return -EINVAL;
		*out = (int)v;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strcasecmp(abbrev, name) == 0) {
			*out = sig;
			return 0;
		}
	}
	return -EINVAL;
}

void config_format_signal(int sig, char *buf, size_t bufsize)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, bufsize, "SIG%s", abbrev);
	else
		snprintf(buf, bufsize, "%d", sig);
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* Only literal addresses: a listener binds before any name service could be trusted, and a
 * name that resolves to several addresses would make "which one" a guess. */
int config_parse_listen_address(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	const char *colon, *port;
	unsigned port_num;
	int family = AF_INET;
	size_t len;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		family = AF_INET6;
		len = (size_t)(close - s - 1);
		s++;
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		len = (size_t)(colon - s);
		port = colon + 1;
	}
	if (len == 0 || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(family, host, addr) != 1)
		return -EINVAL;
	if (config_parse_uint(port, 65535, &port_num) < 0 || port_num == 0)
		return -EINVAL;
	return 0;
}

bool config_secret_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:@+-", *p))
			return false;
	return true;
}
