/* Dropping privileges (docs/design.md §8, §13).
 *
 * The agent drops itself to the service user after the first materialization, then forks the
 * child, which inherits the dropped state. Started as root with a user: the bounding set is
 * emptied and the ambient set cleared while still root, then setgroups, setresgid,
 * setresuid, every remaining capability set cleared, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0
 * again, and everything is read back and verified (setuid(0) must fail). Without a uid change
 * (started as non-root, or root without `[agent] user`) the ids stay, but the inheritable and
 * ambient sets are cleared and PR_SET_NO_NEW_PRIVS is set for the child; a non-root agent also
 * gives up any permitted capabilities.
 *
 * privileged_watcher keeps CAP_DAC_READ_SEARCH, CAP_CHOWN and CAP_FOWNER in the agent's
 * permitted and effective sets only; the bounding set is emptied all the same (it only limits
 * what an exec may gain), so the child just clears its own sets before exec.
 *
 * Every step is checked; any failure returns a negative errno with one sentence in `err`
 * (failure class NOPERM) and the caller must stop without starting anything.
 */
#ifndef AGENT_PRIVDROP_H
#define AGENT_PRIVDROP_H

#include "base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct identity;

#define PRIVDROP_MAX_GROUPS 64

struct privdrop_plan {
	bool change_ids; /* started as root and a user is configured */
	uid_t uid;	 /* target ids (the current ones when !change_ids) */
	gid_t gid;
	gid_t groups[PRIVDROP_MAX_GROUPS]; /* supplementary groups to set */
	size_t ngroups;
	bool keep_watcher_caps; /* privileged_watcher: DAC_READ_SEARCH, CHOWN, FOWNER stay */
	bool user_is_root;	/* [agent] user resolved to uid 0: no drop, warned like no user */
	char user_name[64];	/* for messages; "" when unnamed */
	char home[256];		/* HOME for the child; "" when the user is not changed */
};

/* Builds the plan for the [agent] user as config_finish resolved it (`id` NULL: no user, the
 * ids stay; `user` is the name as written, for messages): a name alone gets its primary group
 * plus its supplementary groups (initgroups semantics); with a group, or a numeric uid, only
 * that group. Returns 0 or a negative errno (NOPERM). */
int privdrop_plan_make(struct privdrop_plan *plan, const char *user, const struct identity *id,
		       bool privileged_watcher, struct agent_error *err);

/* Drops the agent's own privileges according to `plan` and verifies the result. Must be
 * called while single-threaded. Returns 0 or a negative errno (NOPERM). */
int privdrop_agent(const struct privdrop_plan *plan, struct agent_error *err);

/* In the child, before exec: clears every capability set the agent kept and checks that none
 * is left (inheritable, ambient; effective and permitted unless the agent stays root; the
 * bounding set after a uid change) and that NoNewPrivs is set, for capabilities 0..cap_last.
 * The child shares the agent's memory until exec (vfork), so this allocates nothing, formats
 * nothing and logs nothing: raw capget/capset/prctl only. Returns 0 or a negative errno. */
int privdrop_child(const struct privdrop_plan *plan, int cap_last);

/* The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap,
 * else probed with PR_CAPBSET_READ). */
int privdrop_cap_last_cap(void);

#endif
