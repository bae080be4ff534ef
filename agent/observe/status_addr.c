#include "observe/status_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, in_port_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*out = htons((uint16_t)v);
	return 0;
}

int status_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port;
	size_t hlen;
	in_port_t p;

	if (!text)
		return -EINVAL;
	if (text[0] == '[') {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - text - 1);
		port = close + 2;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1 || parse_port(port, &p) < 0)
			return -EINVAL;
		sin6.sin6_port = p;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
		return 0;
	}
	colon = strrchr(text, ':');
	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - text);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	struct sockaddr_in sin = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || parse_port(colon + 1, &p) < 0)
		return -EINVAL;
	sin.sin_port = p;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	*len = sizeof(sin);
	return 0;
}
