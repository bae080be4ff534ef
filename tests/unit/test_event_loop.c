/* event loop timers: a timer fires once and only once, re-arming replaces the pending expiry,
 * a disarmed timer stays silent, and a callback may close its own timer. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct counter {
	unsigned fired;
	uint64_t at_ms;
	bool close_in_callback;
};

static void count(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct counter *c = ctx;

	(void)loop;
	c->fired++;
	c->at_ms = ev_now_ms();
	if (c->close_in_callback)
		ev_timer_close(timer);
}

/* Runs the loop for about `ms` milliseconds. */
static void run_for(struct ev_loop *loop, uint64_t ms)
{
	uint64_t end = ev_now_ms() + ms;

	for (uint64_t now = ev_now_ms(); now < end; now = ev_now_ms())
		assert_true(ev_run_once(loop, (int)(end - now)) >= 0);
}

/* A loop with one disarmed timer counting into `c`. */
struct fixture {
	struct ev_loop loop;
	struct ev_timer t;
	struct counter c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->t.fd = -1;
	assert_int_equal(ev_init(&f->loop), 0);
	assert_int_equal(ev_timer_init(&f->loop, &f->t, CLOCK_MONOTONIC, count, &f->c), 0);
	assert_false(f->t.armed);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ev_timer_close(&f->t);
	assert_int_equal(f->t.fd, -1);
	ev_close(&f->loop);
	free(f);
	return 0;
}

static void fires_once(void **state)
{
	struct fixture *f = *state;
	uint64_t start = ev_now_ms();

	assert_int_equal(ev_timer_arm_ms(&f->t, 30), 0);
	assert_true(f->t.armed);
	run_for(&f->loop, 150);
	assert_int_equal(f->c.fired, 1);
	assert_true(f->c.at_ms - start >= 30);
	assert_false(f->t.armed);
	/* Zero means "at the next iteration", not "disarmed". */
	assert_int_equal(ev_timer_arm_ms(&f->t, 0), 0);
	assert_true(ev_run_once(&f->loop, 1000) >= 1);
	assert_int_equal(f->c.fired, 2);
}

static void rearm_replaces(void **state)
{
	struct fixture *f = *state;
	uint64_t start = ev_now_ms();

	assert_int_equal(ev_timer_arm_ms(&f->t, 20), 0);
	assert_int_equal(ev_timer_arm_ms(&f->t, 120), 0);
	run_for(&f->loop, 80);
	assert_int_equal(f->c.fired, 0);
	run_for(&f->loop, 200);
	assert_int_equal(f->c.fired, 1);
	assert_true(f->c.at_ms - start >= 120);
}

static void disarm_silences(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ev_timer_arm_ms(&f->t, 20), 0);
	ev_timer_disarm(&f->t);
	assert_false(f->t.armed);
	run_for(&f->loop, 100);
	assert_int_equal(f->c.fired, 0);
}

static void close_inside_callback(void **state)
{
	struct ev_loop loop;
	struct ev_timer t = {.fd = -1}, other = {.fd = -1};
	struct counter c = {.close_in_callback = true}, d = {0};
	int fd;

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(ev_timer_init(&loop, &t, CLOCK_MONOTONIC, count, &c), 0);
	assert_int_equal(ev_timer_init(&loop, &other, CLOCK_MONOTONIC, count, &d), 0);
	fd = t.fd;
	assert_int_equal(ev_timer_arm_ms(&t, 0), 0);
	assert_int_equal(ev_timer_arm_ms(&other, 40), 0);
	run_for(&loop, 120);
	assert_int_equal(c.fired, 1);
	assert_int_equal(t.fd, -1);
	/* The descriptor is really closed, and the other timer still works. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(d.fired, 1);
	/* Closing twice is harmless. */
	ev_timer_close(&t);
	ev_timer_close(&other);
	ev_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fires_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(rearm_replaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(disarm_silences, setup, teardown),
	    cmocka_unit_test(close_inside_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
