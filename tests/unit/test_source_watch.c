/* source_watch: directory watches see kubelet swaps, renames, in-place writes, a deleted and
 * recreated directory, an overflowed queue and the poll period. Real inotify, real files. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"
#include "base/log.h"
#include "secrets/source_watch.h"
#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSECRETS 3

struct recorder {
	unsigned calls;
	unsigned marked[NSECRETS];
	enum source_watch_reason last_reason;
	bool saw_overflow;
};

struct fixture {
	char root[64];
	char dir_a[96], dir_b[96];
	char file_a[128], file_b[128];
	struct ev_loop loop;
	struct source_watch *sw;
	struct recorder rec;
};

static void record(void *ctx, const bool *dirty, size_t n, enum source_watch_reason reason)
{
	struct recorder *rec = ctx;

	assert_int_equal(n, NSECRETS);
	rec->calls++;
	rec->last_reason = reason;
	if (reason == SOURCE_WATCH_OVERFLOW)
		rec->saw_overflow = true;
	for (size_t i = 0; i < n; i++)
		rec->marked[i] += dirty[i];
}

/* Runs the loop until the recorder has seen `calls` callbacks or 5 s passed. */
static void run_until(struct fixture *fx, unsigned calls)
{
	uint64_t deadline = ev_now_ms() + 5000;

	while (fx->rec.calls < calls && ev_now_ms() < deadline)
		ev_run_once(&fx->loop, 50);
}

/* Dispatches whatever is pending for a while (bounded: a retry timer may keep firing). */
static void settle(struct fixture *fx)
{
	uint64_t deadline = ev_now_ms() + 1000;

	while (ev_now_ms() < deadline && ev_run_once(&fx->loop, 150) > 0)
		;
}

static int setup_with(void **state, uint64_t poll_ms)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct source_watch_opts opts = {.poll_interval_ms = poll_ms, .rearm_interval_ms = 50};
	const char *paths[NSECRETS];

	assert_non_null(fx);
	assert_int_equal(ut_tmpdir_make(fx->root, sizeof(fx->root), "sw-test"), 0);
	snprintf(fx->dir_a, sizeof(fx->dir_a), "%s/a", fx->root);
	snprintf(fx->dir_b, sizeof(fx->dir_b), "%s/b", fx->root);
	snprintf(fx->file_a, sizeof(fx->file_a), "%s/key.pem", fx->dir_a);
	snprintf(fx->file_b, sizeof(fx->file_b), "%s/root.crt", fx->dir_b);
	assert_int_equal(mkdir(fx->dir_a, 0700), 0);
	assert_int_equal(mkdir(fx->dir_b, 0700), 0);
	ut_write_text(fx->file_a, "one", 0666);
	ut_write_text(fx->file_b, "one", 0666);
	paths[0] = fx->file_a;
	paths[1] = fx->file_b;
	paths[2] = NULL; /* an env: source: never watched */
	assert_int_equal(ev_init(&fx->loop), 0);
	assert_int_equal(
	    source_watch_create(&fx->sw, &fx->loop, paths, NSECRETS, &opts, record, &fx->rec), 0);
	assert_int_equal(source_watch_dir_count(fx->sw), 2);
	assert_int_equal(source_watch_armed_count(fx->sw), 2);
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 0);
}

static int setup_poll(void **state)
{
	return setup_with(state, 100);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	source_watch_destroy(fx->sw);
	ev_close(&fx->loop);
	assert_int_equal(ut_tmpdir_remove(fx->root), 0);
	free(fx);
	return 0;
}

static void rename_over_marks_only_its_directory(void **state)
{
	struct fixture *fx = *state;
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s/.key.tmp", fx->dir_a);
	ut_write_text(tmp, "two", 0666);
	assert_int_equal(rename(tmp, fx->file_a), 0);
	run_until(fx, 1);
	settle(fx);
	assert_true(fx->rec.calls >= 1);
	assert_true(fx->rec.marked[0] >= 1);
	assert_int_equal(fx->rec.marked[1], 0);
	assert_int_equal(fx->rec.marked[2], 0);
	assert_int_equal(fx->rec.last_reason, SOURCE_WATCH_EVENT);
}

static void in_place_write_marks(void **state)
{
	struct fixture *fx = *state;

	ut_write_text(fx->file_b, "two", 0666);
	run_until(fx, 1);
	assert_true(fx->rec.marked[1] >= 1);
	assert_int_equal(fx->rec.marked[0], 0);
}

/* Kubernetes AtomicWriter: new timestamped dir, ..data_tmp symlink renamed over ..data. */
static void kubelet_data_swap_marks(void **state)
{
	struct fixture *fx = *state;
	char ts[160], tsfile[200], tmp_link[160], data_link[160];

	snprintf(ts, sizeof(ts), "%s/..2026_11_28_14_22_04.123", fx->dir_b);
	snprintf(tsfile, sizeof(tsfile), "%s/root.crt", ts);
	snprintf(tmp_link, sizeof(tmp_link), "%s/..data_tmp", fx->dir_b);
	snprintf(data_link, sizeof(data_link), "%s/..data", fx->dir_b);
	assert_int_equal(mkdir(ts, 0755), 0);
	ut_write_text(tsfile, "three", 0666);
	settle(fx);
	fx->rec.calls = 0;
	memset(fx->rec.marked, 0, sizeof(fx->rec.marked));
	assert_int_equal(symlink("..2026_11_28_14_22_04.123", tmp_link), 0);
	assert_int_equal(rename(tmp_link, data_link), 0);
	run_until(fx, 1);
	assert_true(fx->rec.marked[1] >= 1);
	assert_int_equal(fx->rec.marked[0], 0);
}

static void deleted_and_recreated_directory_is_rearmed(void **state)
{
	struct fixture *fx = *state;
	uint64_t deadline;

	assert_int_equal(unlink(fx->file_a), 0);
	assert_int_equal(rmdir(fx->dir_a), 0);
	settle(fx);
	assert_int_equal(source_watch_armed_count(fx->sw), 1);
	assert_int_equal(mkdir(fx->dir_a, 0700), 0);
	deadline = ev_now_ms() + 5000;
	while (source_watch_armed_count(fx->sw) < 2 && ev_now_ms() < deadline)
		ev_run_once(&fx->loop, 50);
	assert_int_equal(source_watch_armed_count(fx->sw), 2);
	settle(fx);

	/* The new directory's events reach us: the watch is on the new inode. */
	fx->rec.calls = 0;
	memset(fx->rec.marked, 0, sizeof(fx->rec.marked));
	ut_write_text(fx->file_a, "again", 0666);
	run_until(fx, 1);
	assert_true(fx->rec.marked[0] >= 1);
}

/* A directory replaced by a rename (the old one moved away) must not keep the old inode. */
static void directory_replaced_by_rename_follows_the_path(void **state)
{
	struct fixture *fx = *state;
	char staged[160], moved[160], staged_file[200];

	snprintf(staged, sizeof(staged), "%s/a.new", fx->root);
	snprintf(moved, sizeof(moved), "%s/a.old", fx->root);
	snprintf(staged_file, sizeof(staged_file), "%s/key.pem", staged);
	assert_int_equal(mkdir(staged, 0700), 0);
	ut_write_text(staged_file, "four", 0666);
	assert_int_equal(rename(fx->dir_a, moved), 0);
	assert_int_equal(rename(staged, fx->dir_a), 0);
	run_until(fx, 1);
	settle(fx);
	assert_true(fx->rec.marked[0] >= 1);
	assert_int_equal(source_watch_armed_count(fx->sw), 2);

	/* Writes into the moved-away directory are no longer ours; the new one's are. */
	fx->rec.calls = 0;
	memset(fx->rec.marked, 0, sizeof(fx->rec.marked));
	snprintf(staged_file, sizeof(staged_file), "%s/key.pem", moved);
	ut_write_text(staged_file, "stale", 0666);
	settle(fx);
	assert_int_equal(fx->rec.marked[0], 0);
	ut_write_text(fx->file_a, "five", 0666);
	run_until(fx, 1);
	assert_true(fx->rec.marked[0] >= 1);
}

/* More events than the default queue holds (16384) while the loop is not reading. */
static void overflowed_queue_marks_everything(void **state)
{
	struct fixture *fx = *state;
	char path[200];
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	unsigned long max_events = 16384;

	if (f) {
		if (fscanf(f, "%lu", &max_events) != 1)
			max_events = 16384;
		fclose(f);
	}
	if (max_events > 200000) {
		fprintf(stderr, "SKIPPED: max_queued_events is %lu, too many events to overflow\n",
			max_events);
		skip();
	}
	for (unsigned long i = 0; i < max_events + 100; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%lu", fx->dir_b, i % 64);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd); /* one IN_CLOSE_WRITE each; identical events would be coalesced */
		unlink(path);
	}
	run_until(fx, 1);
	settle(fx);
	assert_true(fx->rec.saw_overflow);
	assert_true(fx->rec.marked[0] >= 1);
	assert_true(fx->rec.marked[1] >= 1);
	assert_int_equal(fx->rec.marked[2], 0);
}

static void poll_period_marks_without_events(void **state)
{
	struct fixture *fx = *state;

	run_until(fx, 2);
	assert_true(fx->rec.calls >= 2);
	assert_int_equal(fx->rec.last_reason, SOURCE_WATCH_POLL);
	assert_true(fx->rec.marked[0] >= 2);
	assert_true(fx->rec.marked[1] >= 2);
	assert_int_equal(fx->rec.marked[2], 0);
}

static void quiet_directory_reports_nothing(void **state)
{
	struct fixture *fx = *state;

	settle(fx);
	assert_int_equal(fx->rec.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(quiet_directory_reports_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(rename_over_marks_only_its_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(in_place_write_marks, setup, teardown),
	    cmocka_unit_test_setup_teardown(kubelet_data_swap_marks, setup, teardown),
	    cmocka_unit_test_setup_teardown(deleted_and_recreated_directory_is_rearmed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(directory_replaced_by_rename_follows_the_path, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(overflowed_queue_marks_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(poll_period_marks_without_events, setup_poll, teardown),
	};

	log_setup(LOG_FORMAT_TEXT, LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
