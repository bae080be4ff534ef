#include "secrets/preflight.h"

#include "base/log.h"
#include "secrets/tcp_probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An empty value counts as unset: the seed's entrypoint tested `[ -z "$VAR" ]`, and a service
 * handed NODE_ID="" fails later in a far less obvious way. */
static bool env_missing(const char *name)
{
	const char *v = getenv(name);
	return v == NULL || v[0] == '\0';
}

static bool check_env(const struct config *cfg)
{
	bool missing = false;

	for (size_t i = 0; i < cfg->require_env.n; i++) {
		const char *name = cfg->require_env.items[i];
		if (!env_missing(name))
			continue;
		log_event(LOG_ERROR, "preflight_failed", NULL,
			  (const char *[]){"check", "require_env", "variable", name, NULL},
			  "Required environment variable %s is not set", name);
		missing = true;
	}
	return !missing;
}

static bool check_dirs(const struct config *cfg)
{
	bool ok = true;

	for (size_t i = 0; i < cfg->require_dir.n; i++) {
		const char *path = cfg->require_dir.items[i];
		struct stat st;
		const char *why = NULL;

		if (stat(path, &st) < 0)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "not a directory";
		if (!why)
			continue;
		log_event(
		    LOG_ERROR, "preflight_failed", NULL,
		    (const char *[]){"check", "require_dir", "path", path, "reason", why, NULL},
		    "Model directory not found: %s", path);
		ok = false;
	}
	return ok;
}

/* Splits every configured item on commas and whitespace (wait_any_tcp accepts both; a config
 * value may still hold a whole list). Returns the pieces as pointers into `buf`. */
static size_t split_addresses(const struct strlist *list, bool commas, char *buf, size_t bufsize,
			      const char **out, size_t max)
{
	size_t n = 0, used = 0;
	const char *seps = commas ? ", \t\n" : " \t\n";

	for (size_t i = 0; i < list->n; i++) {
		size_t len = strlen(list->items[i]);
		char *save = NULL, *tok;

		if (used + len + 1 > bufsize)
			break;
		memcpy(buf + used, list->items[i], len + 1);
		for (tok = strtok_r(buf + used, seps, &save); tok && n < max;
		     tok = strtok_r(NULL, seps, &save))
			out[n++] = tok;
		used += len + 1;
	}
	return n;
}

#define MAX_ADDRESSES 64

struct tcp_plan {
	char wait_buf[4096], any_buf[4096];
	const char *wait[MAX_ADDRESSES], *any[MAX_ADDRESSES];
	size_t nwait, nany;
	struct tcp_endpoint endpoints[2 * MAX_ADDRESSES];
	struct tcp_check checks[MAX_ADDRESSES + 1];
	size_t nchecks;
	bool has_any; /* the last check is the wait_any_tcp list */
};

/* Builds one check per wait_tcp address and one for the whole wait_any_tcp list. Returns false
 * when an address cannot be parsed (a configuration error, logged). */
static bool plan_tcp(const struct config *cfg, struct tcp_plan *p)
{
	struct sfs_error err = {0};
	size_t e = 0;
	bool ok = true;

	p->nwait = split_addresses(&cfg->wait_tcp, false, p->wait_buf, sizeof(p->wait_buf), p->wait,
				   MAX_ADDRESSES);
	p->nany = split_addresses(&cfg->wait_any_tcp, true, p->any_buf, sizeof(p->any_buf), p->any,
				  MAX_ADDRESSES);
	p->nchecks = 0;
	p->has_any = false;
	for (size_t i = 0; i < p->nwait; i++) {
		struct tcp_endpoint *ep = &p->endpoints[e++];
		ep->spec = p->wait[i];
		if (tcp_address_parse(ep->spec, &ep->addr, &err) < 0) {
			log_event(LOG_ERROR, "config_error", NULL,
				  (const char *[]){"check", "wait_tcp", "address", ep->spec, NULL},
				  "%s", err.msg);
			ok = false;
			continue;
		}
		p->checks[p->nchecks++] = (struct tcp_check){.endpoints = ep, .n = 1};
	}
	if (p->nany) {
		struct tcp_check *c = &p->checks[p->nchecks];
		c->endpoints = &p->endpoints[e];
		c->n = 0;
		for (size_t i = 0; i < p->nany; i++) {
			struct tcp_endpoint *ep = &p->endpoints[e];
			ep->spec = p->any[i];
			if (tcp_address_parse(ep->spec, &ep->addr, &err) < 0) {
				log_event(LOG_ERROR, "config_error", NULL,
					  (const char *[]){"check", "wait_any_tcp", "address",
							   ep->spec, NULL},
					  "%s", err.msg);
				ok = false;
				continue;
			}
			e++;
			c->n++;
		}
		if (c->n) {
			p->nchecks++;
			p->has_any = true;
		}
	}
	return ok;
}

static void join_specs(const char *const *items, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", items[i]);
}

/* "PLAINTEXT://kafka:9092 -> 10.0.0.7:9092 (Connection refused); ..." for the any-list. */
static void describe_attempts(const struct tcp_check *c, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n && used < size; i++) {
		const struct tcp_endpoint *ep = &c->endpoints[i];
		used += (size_t)snprintf(buf + used, size - used, "%s%s -> %s (%s)", i ? "; " : "",
					 ep->spec, ep->tried[0] ? ep->tried : "nothing resolved",
					 ep->reason[0] ? ep->reason : "no answer");
	}
}

static bool report_tcp(const struct config *cfg, const struct tcp_plan *p)
{
	char timeout[32], list[2048], tried[2048];
	bool ok = true;

	tcp_format_timeout(cfg->timeout_ms, timeout, sizeof(timeout));
	for (size_t i = 0; i < p->nchecks; i++) {
		const struct tcp_check *c = &p->checks[i];
		const struct tcp_endpoint *ep = &c->endpoints[0];
		bool is_any = p->has_any && i == p->nchecks - 1;

		if (c->ok)
			continue;
		ok = false;
		if (!is_any) {
			log_event(LOG_ERROR, "preflight_failed", NULL,
				  (const char *[]){"check", "wait_tcp", "address", ep->spec,
						   "tried", ep->tried, "reason",
						   ep->reason[0] ? ep->reason : "no answer", NULL},
				  "Cannot connect to Redis at %s (timeout %s)", ep->spec, timeout);
			continue;
		}
		join_specs(p->any, p->nany, list, sizeof(list));
		describe_attempts(c, tried, sizeof(tried));
		log_event(LOG_ERROR, "preflight_failed", NULL,
			  (const char *[]){"check", "wait_any_tcp", "timeout", timeout, "tried",
					   tried, NULL},
			  "Cannot reach any Kafka broker in %s", list);
	}
	return ok;
}

int preflight_run(const struct config *cfg, struct ev_loop *loop, struct agent_error *err)
{
	static struct tcp_plan plan; /* large; the preflight runs once per process */
	bool env_ok, dirs_ok, tcp_parsed, tcp_ok = true;
	int r;

	/* Every check runs even after a failure, so one start names every problem at once. */
	env_ok = check_env(cfg);
	dirs_ok = check_dirs(cfg);
	tcp_parsed = plan_tcp(cfg, &plan);
	if (plan.nchecks) {
		r = tcp_probe_run(loop, plan.checks, plan.nchecks, cfg->timeout_ms);
		if (r < 0 && r != -ETIMEDOUT) {
			log_event(LOG_ERROR, "preflight_failed", NULL, NULL,
				  "TCP checks could not run: %s", strerror(-r));
			return agent_error_logged(err, AGENT_FAIL_SOFTWARE, r,
						  "TCP checks could not run: %s", strerror(-r));
		}
		tcp_ok = report_tcp(cfg, &plan);
	}
	/* Each failing item was logged above. */
	if (!env_ok || !tcp_parsed)
		return agent_error_logged(err, AGENT_FAIL_CONFIG, -EINVAL, "preflight failed");
	if (!dirs_ok || !tcp_ok)
		return agent_error_logged(err, AGENT_FAIL_UNAVAILABLE, -EHOSTUNREACH,
					  "preflight failed");
	if (cfg->require_env.n || cfg->require_dir.n || plan.nchecks)
		log_info("preflight_ok", NULL, "every preflight check passed");
	return 0;
}
