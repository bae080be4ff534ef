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
 * value may still hold a whole list). The pieces point into *ret_buf; both arrays are sized from
 * the input, so no address is ever dropped. Returns 0 or -ENOMEM. */
static int split_addresses(const struct strlist *list, bool commas, char **ret_buf,
			   const char ***ret_items, size_t *ret_n)
{
	const char *seps = commas ? ", \t\n" : " \t\n";
	size_t total = 1, used = 0, n = 0;
	const char **items;
	char *buf;

	for (size_t i = 0; i < list->n; i++)
		total += strlen(list->items[i]) + 1;
	buf = malloc(total);
	/* A piece is at least one byte followed by a separator or the item's end. */
	items = calloc(total / 2 + 1, sizeof(*items));
	if (!buf || !items) {
		free(buf);
		free(items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < list->n; i++) {
		size_t len = strlen(list->items[i]);
		char *save = NULL, *tok;

		memcpy(buf + used, list->items[i], len + 1);
		for (tok = strtok_r(buf + used, seps, &save); tok;
		     tok = strtok_r(NULL, seps, &save))
			items[n++] = tok;
		used += len + 1;
	}
	*ret_buf = buf;
	*ret_items = items;
	*ret_n = n;
	return 0;
}

struct tcp_plan {
	char *wait_buf, *any_buf;
	const char **wait, **any;
	size_t nwait, nany;
	struct tcp_endpoint *endpoints; /* nwait + nany */
	struct tcp_check *checks;	/* nwait + 1 */
	size_t nchecks;
	bool has_any; /* the last check is the wait_any_tcp list */
};

static void tcp_plan_free(struct tcp_plan *p)
{
	free(p->wait_buf);
	free(p->any_buf);
	free(p->wait);
	free(p->any);
	free(p->endpoints);
	free(p->checks);
	memset(p, 0, sizeof(*p));
}

/* Builds one check per wait_tcp address and one for the whole wait_any_tcp list. Returns 0,
 * -EINVAL when an address cannot be parsed (a configuration error, logged), or -ENOMEM. */
static int plan_tcp(const struct config *cfg, struct tcp_plan *p)
{
	struct sfs_error err = {0};
	size_t e = 0;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	if (split_addresses(&cfg->wait_tcp, false, &p->wait_buf, &p->wait, &p->nwait) < 0 ||
	    split_addresses(&cfg->wait_any_tcp, true, &p->any_buf, &p->any, &p->nany) < 0)
		return -ENOMEM;
	p->endpoints = calloc(p->nwait + p->nany + 1, sizeof(*p->endpoints));
	p->checks = calloc(p->nwait + 1, sizeof(*p->checks));
	if (!p->endpoints || !p->checks)
		return -ENOMEM;
	for (size_t i = 0; i < p->nwait; i++) {
		struct tcp_endpoint *ep = &p->endpoints[e++];
		ep->spec = p->wait[i];
		if (tcp_address_parse(ep->spec, &ep->addr, &err) < 0) {
			log_event(LOG_ERROR, "config_error", NULL,
				  (const char *[]){"check", "wait_tcp", "address", ep->spec, NULL},
				  "%s", err.msg);
			ret = -EINVAL;
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
				ret = -EINVAL;
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
	return ret;
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
	struct tcp_plan plan;
	bool env_ok, dirs_ok, tcp_parsed, tcp_ok = true;
	int r;

	/* Every check runs even after a failure, so one start names every problem at once. */
	env_ok = check_env(cfg);
	dirs_ok = check_dirs(cfg);
	r = plan_tcp(cfg, &plan);
	if (r == -ENOMEM) {
		tcp_plan_free(&plan);
		log_error("internal_error", NULL, "out of memory");
		return agent_error_logged(err, AGENT_FAIL_SOFTWARE, r, "out of memory");
	}
	tcp_parsed = r == 0;
	if (plan.nchecks) {
		r = tcp_probe_run(loop, plan.checks, plan.nchecks, cfg->timeout_ms);
		if (r < 0 && r != -ETIMEDOUT) {
			tcp_plan_free(&plan);
			log_event(LOG_ERROR, "preflight_failed", NULL, NULL,
				  "TCP checks could not run: %s", strerror(-r));
			return agent_error_logged(err, AGENT_FAIL_SOFTWARE, r,
						  "TCP checks could not run: %s", strerror(-r));
		}
		tcp_ok = report_tcp(cfg, &plan);
	}
	r = (int)plan.nchecks;
	tcp_plan_free(&plan);
	/* Each failing item was logged above. */
	if (!env_ok || !tcp_parsed)
		return agent_error_logged(err, AGENT_FAIL_CONFIG, -EINVAL, "preflight failed");
	if (!dirs_ok || !tcp_ok)
		return agent_error_logged(err, AGENT_FAIL_UNAVAILABLE, -EHOSTUNREACH,
					  "preflight failed");
	if (cfg->require_env.n || cfg->require_dir.n || r)
		log_info("preflight_ok", NULL, "every preflight check passed");
	return 0;
}
