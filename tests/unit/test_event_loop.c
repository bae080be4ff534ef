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

static void fires_once(void **state)
{
	struct ev_loop loop;
	struct ev_timer t = {.fd = -1};
	struct counter c = {0};
	uint64_t start;

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(ev_timer_init(&loop, &t, CLOCK_MONOTONIC, count, &c), 0);
	assert_false(t.armed);
	start = ev_now_ms();
	assert_int_equal(ev_timer_arm_ms(&t, 30), 0);
	assert_true(t.armed);
	run_for(&loop, 150);
	assert_int_equal(c.fired, 1);
	assert_true(c.at_ms - start >= 30);
	assert_false(t.armed);
	/* Zero means "at the next iteration", not "disarmed". */
	assert_int_equal(ev_timer_arm_ms(&t, 0), 0);
	assert_true(ev_run_once(&loop, 1000) >= 1);
	assert_int_equal(c.fired, 2);
	ev_timer_close(&t);
	assert_int_equal(t.fd, -1);
	ev_close(&loop);
}

static void rearm_replaces(void **state)
{
	struct ev_loop loop;
	struct ev_timer t = {.fd = -1};
	struct counter c = {0};
	uint64_t start;

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(ev_timer_init(&loop, &t, CLOCK_MONOTONIC, count, &c), 0);
	start = ev_now_ms();
	assert_int_equal(ev_timer_arm_ms(&t, 20), 0);
	assert_int_equal(ev_timer_arm_ms(&t, 120), 0);
	run_for(&loop, 80);
	assert_int_equal(c.fired, 0);
	run_for(&loop, 200);
	assert_int_equal(c.fired, 1);
	assert_true(c.at_ms - start >= 120);
	ev_timer_close(&t);
	ev_close(&loop);
}

static void disarm_silences(void **state)
{
	struct ev_loop loop;
	struct ev_timer t = {.fd = -1};
	struct counter c = {0};

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(ev_timer_init(&loop, &t, CLOCK_MONOTONIC, count, &c), 0);
	assert_int_equal(ev_timer_arm_ms(&t, 20), 0);
	ev_timer_disarm(&t);
	assert_false(t.armed);
	run_for(&loop, 100);
	assert_int_equal(c.fired, 0);
	ev_timer_close(&t);
	ev_close(&loop);
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
	    cmocka_unit_test(fires_once),
	    cmocka_unit_test(rearm_replaces),
	    cmocka_unit_test(disarm_silences),
	    cmocka_unit_test(close_inside_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
