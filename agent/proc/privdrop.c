#include "proc/privdrop.h"

#include "proc/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const cap_value_t watcher_caps[] = {CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER};
#define NWATCHER_CAPS ((int)(sizeof(watcher_caps) / sizeof(watcher_caps[0])))

int privdrop_cap_last_cap(void)
{
	/* The kernel's number cannot change while it runs: read once. */
	static int cached = -1;
	char buf[16] = {0};
	int fd, last = -1;

	if (cached >= 0)
		return cached;
	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			char *end;
			long v = strtol(buf, &end, 10);
			if (end != buf && v >= 0 && v < 64)
				last = (int)v;
		}
	}
	/* Without /proc (a bare container), ask the kernel cap by cap. */
	if (last < 0)
		for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
			;
	cached = last;
	return last;
}

int privdrop_plan_make(struct privdrop_plan *plan, const char *user, const struct identity *id,
		       bool privileged_watcher, struct agent_error *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->uid = getuid();
	plan->gid = getgid();
	if (!id)
		return 0;
	snprintf(plan->user_name, sizeof(plan->user_name), "%s", id->name[0] ? id->name : user);
	/* uid 0 without capabilities can still plant setuid-root files for a later exec: that
	 * is not a drop, and it must not be reported as one. */
	plan->user_is_root = id->uid == 0;
	if (geteuid() != 0 || plan->user_is_root)
		return 0;
	plan->change_ids = true;
	plan->uid = id->uid;
	plan->gid = id->gid;
	plan->keep_watcher_caps = privileged_watcher;
	snprintf(plan->home, sizeof(plan->home), "%s", id->home[0] ? id->home : "/");
	/* A name alone brings its supplementary groups (identity_resolve gives none for an
	 * explicit group or a bare number: exactly that one group, nothing inherited from root). */
	if (id->by_name) {
		if (id->ngroups > PRIVDROP_MAX_GROUPS)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -E2BIG,
					       "user %s is in more than %d groups", plan->user_name,
					       PRIVDROP_MAX_GROUPS);
		memcpy(plan->groups, id->groups, id->ngroups * sizeof(gid_t));
		plan->ngroups = id->ngroups;
	}
	return 0;
}

static bool gid_in(gid_t g, const gid_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == g)
			return true;
	return false;
}

static bool is_watcher_cap(cap_value_t c)
{
	for (int i = 0; i < NWATCHER_CAPS; i++)
		if (watcher_caps[i] == c)
			return true;
	return false;
}

/* What find_leftover_cap() found; the names are for the agent's message. */
enum cap_leftover {
	CAPS_CLEAN,
	CAPS_UNREADABLE,
	LEFT_INHERITABLE,
	LEFT_PERMITTED, /* permitted or effective */
	LEFT_BOUNDING,
};

static const char *const leftover_names[] = {
    [LEFT_INHERITABLE] = "inheritable capability",
    [LEFT_PERMITTED] = "capability",
    [LEFT_BOUNDING] = "bounding capability",
};

/* The one check of the capability state after a drop, for the agent and for the child: no
 * inheritable or ambient capability; unless the ids stay root, nothing permitted or effective
 * but (with `keep`) the watcher capabilities; with `bounding`, an empty bounding set.
 * Capabilities 0..cap_last; *cap names the first one left. Raw capget and prctl only: the
 * child runs it on the agent's memory (vfork), where nothing may allocate.
 *
 * The ambient set needs no call of its own once inheritable is read empty: the kernel keeps
 * every ambient capability permitted and inheritable, and drops it from ambient the moment
 * either bit goes (capabilities(7)), so an empty inheritable set proves an empty ambient one. */
static enum cap_leftover find_leftover_cap(const struct privdrop_plan *plan, bool keep,
					   bool bounding, int cap_last, int *cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	bool stays_root = !plan->change_ids && geteuid() == 0;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return CAPS_UNREADABLE;
	for (int c = 0; c <= cap_last; c++) {
		uint32_t bit = 1u << (c % 32);
		const struct __user_cap_data_struct *d = &data[c / 32];

		*cap = c;
		if (d->inheritable & bit)
			return LEFT_INHERITABLE;
		if (stays_root)
			continue;
		if (!(keep && is_watcher_cap(c)) && ((d->effective | d->permitted) & bit))
			return LEFT_PERMITTED;
		if (bounding && prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			return LEFT_BOUNDING;
	}
	return CAPS_CLEAN;
}

/* Reads the process's capability state back and compares it with what the plan allows:
 * `keep` says whether the watcher capabilities may remain in permitted and effective. */
static int verify_caps(const struct privdrop_plan *plan, bool keep, struct agent_error *err)
{
	int cap = 0;
	enum cap_leftover left =
	    find_leftover_cap(plan, keep, plan->change_ids, privdrop_cap_last_cap(), &cap);

	if (left == CAPS_UNREADABLE)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot read the capability sets back");
	if (left != CAPS_CLEAN) {
		char *name = cap_to_name(cap);
		int r = agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
					"privilege drop failed: %s %s is still set",
					leftover_names[left], name ? name : "?");
		cap_free(name);
		return r;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: no_new_privs is not set");
	return 0;
}

static int verify_ids(const struct privdrop_plan *plan, struct agent_error *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t now[PRIVDROP_MAX_GROUPS + 1];
	int n;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot read the process ids back");
	if (ru != plan->uid || eu != plan->uid || su != plan->uid)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: uids are %u/%u/%u, expected %u",
				       (unsigned)ru, (unsigned)eu, (unsigned)su,
				       (unsigned)plan->uid);
	if (rg != plan->gid || eg != plan->gid || sg != plan->gid)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: gids are %u/%u/%u, expected %u",
				       (unsigned)rg, (unsigned)eg, (unsigned)sg,
				       (unsigned)plan->gid);
	if (!plan->change_ids)
		return 0;
	n = getgroups(PRIVDROP_MAX_GROUPS + 1, now);
	if (n < 0)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot read the supplementary groups back");
	for (int i = 0; i < n; i++)
		if (!gid_in(now[i], plan->groups, plan->ngroups))
			return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
					       "privilege drop failed: still in group %u",
					       (unsigned)now[i]);
	for (size_t i = 0; i < plan->ngroups; i++)
		if (!gid_in(plan->groups[i], now, (size_t)n))
			return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
					       "privilege drop failed: group %u was not set",
					       (unsigned)plan->groups[i]);
	/* The proof that matters: the way back to root is closed. */
	if (plan->uid != 0 && (setuid(0) == 0 || errno != EPERM))
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: setuid(0) did not fail");
	if (plan->gid != 0 && (setgid(0) == 0 || errno != EPERM))
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: setgid(0) did not fail");
	if (setgroups(0, NULL) == 0 || errno != EPERM)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -EPERM,
				       "privilege drop failed: setgroups() did not fail");
	return 0;
}

static int drop_bounding_set(struct agent_error *err)
{
	int last = privdrop_cap_last_cap();

	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					       "cannot drop capability %d from the bounding set",
					       c);
	return 0;
}

static int set_final_caps(const struct privdrop_plan *plan, struct agent_error *err)
{
	cap_t caps = cap_get_proc();
	int r = 0;

	if (!caps)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot read the capability sets");
	if (plan->change_ids || geteuid() != 0) {
		cap_clear(caps);
		if (plan->change_ids && plan->keep_watcher_caps &&
		    (cap_set_flag(caps, CAP_PERMITTED, NWATCHER_CAPS, watcher_caps, CAP_SET) < 0 ||
		     cap_set_flag(caps, CAP_EFFECTIVE, NWATCHER_CAPS, watcher_caps, CAP_SET) < 0)) {
			r = agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					    "cannot prepare the watcher capabilities");
			goto out;
		}
	} else if (cap_clear_flag(caps, CAP_INHERITABLE) < 0) {
		r = agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				    "cannot prepare the capability sets");
		goto out;
	}
	if (cap_set_proc(caps) < 0)
		r = agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				    "cannot clear the capability sets");
out:
	cap_free(caps);
	return r;
}

int privdrop_agent(const struct privdrop_plan *plan, struct agent_error *err)
{
	bool keep = plan->change_ids && plan->keep_watcher_caps;
	int r;

	/* Bounding and ambient go while still root: afterwards CAP_SETPCAP is gone. */
	if (plan->change_ids) {
		r = drop_bounding_set(err);
		if (r < 0)
			return r;
	}
	/* One call (libcap's cap_reset_ambient probes every capability first). A kernel without
	 * ambient capabilities (before 4.3) has none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot clear the ambient capability set");
	if (plan->change_ids) {
		if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					       "cannot keep the watcher capabilities");
		if (setgroups(plan->ngroups, plan->groups) < 0)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					       "setgroups failed: %s", strerror(errno));
		if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					       "setresgid(%u) failed: %s", (unsigned)plan->gid,
					       strerror(errno));
		if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
			return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
					       "setresuid(%u) failed: %s", (unsigned)plan->uid,
					       strerror(errno));
	}
	/* setresuid clears permitted and effective, but never inheritable. */
	r = set_final_caps(plan, err);
	if (r < 0)
		return r;
	if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot reset PR_SET_KEEPCAPS");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno, "cannot set no_new_privs");
	/* A uid change resets the dumpable flag; secrets may still be in memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return agent_error_set(err, AGENT_FAIL_NOPERM, -errno,
				       "cannot disable core dumps after the drop");
	r = verify_ids(plan, err);
	if (r < 0)
		return r;
	return verify_caps(plan, keep, err);
}

int privdrop_child(const struct privdrop_plan *plan, int cap_last)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	int cap;

	/* The agent kept the watcher capabilities; the service gets none of them. */
	if (plan->change_ids && plan->keep_watcher_caps) {
		memset(none, 0, sizeof(none));
		if (syscall(SYS_capset, &hdr, none) < 0)
			return -errno;
	}
	/* The bounding set is not read again: the agent proved it empty before starting the
	 * child, and a bounding set can only ever shrink. */
	if (find_leftover_cap(plan, false, false, cap_last, &cap) != CAPS_CLEAN)
		return -EPERM;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -EPERM;
	return 0;
}
