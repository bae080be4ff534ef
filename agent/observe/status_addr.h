/* The address forms of `status_listen`: IPv4 `HOST:PORT` (dotted quad) and `[IPV6]:PORT`
 * (e.g. `[::1]:9464`). Shared by the listener and by `secret-agent status`. */
#ifndef AGENT_OBSERVE_STATUS_ADDR_H
#define AGENT_OBSERVE_STATUS_ADDR_H

#include <sys/socket.h>

/* Fills *ss and *len. Port 0 is accepted (the kernel picks one: tests). Returns 0 or -EINVAL. */
int status_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len);

#endif
