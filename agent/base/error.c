#include "base/error.h"

#include "base/exit_codes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fill(struct agent_error *err, enum agent_failure failure, int code)
{
	err->code = code < 0 ? code : -EINVAL;
	err->failure = failure;
	err->event = NULL;
	err->reported = false;
	err->show_usage = false;
}

/* The body of the three setters; returns the negative errno to hand back. */
__attribute__((format(printf, 4, 0))) static int
vset(struct agent_error *err, enum agent_failure failure, int code, const char *fmt, va_list ap)
{
	if (code >= 0)
		code = -EINVAL;
	if (!err)
		return code;
	fill(err, failure, code);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int agent_error_set(struct agent_error *err, enum agent_failure failure, int code, const char *fmt,
		    ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = vset(err, failure, code, fmt, ap);
	va_end(ap);
	return code;
}

int agent_error_logged(struct agent_error *err, enum agent_failure failure, int code,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = vset(err, failure, code, fmt, ap);
	va_end(ap);
	if (err)
		err->reported = true;
	return code;
}

int agent_error_usage(struct agent_error *err, const char *fmt, ...)
{
	va_list ap;
	int code;

	va_start(ap, fmt);
	code = vset(err, AGENT_FAIL_USAGE, -EINVAL, fmt, ap);
	va_end(ap);
	if (err)
		err->show_usage = true;
	return code;
}

int agent_error_from_sfs(struct agent_error *err, enum agent_failure failure,
			 const struct sfs_error *src)
{
	int code = src->code < 0 ? src->code : -EINVAL;

	if (!err)
		return code;
	fill(err, failure, code);
	snprintf(err->msg, sizeof(err->msg), "%s", src->msg);
	return code;
}

void agent_error_prefix(struct agent_error *err, const char *fmt, ...)
{
	char old[AGENT_ERROR_MAX];
	size_t n;
	va_list ap;

	if (!err)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n + 3 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 3);
		strncat(err->msg, old, sizeof(err->msg) - n - 3);
	}
}

int agent_exit_code(enum agent_failure failure)
{
	static const int table[] = {
	    [AGENT_FAIL_SOFTWARE] = EXIT_SOFTWARE,
	    [AGENT_FAIL_USAGE] = EXIT_USAGE,
	    [AGENT_FAIL_INVALID] = EXIT_INVALID,
	    [AGENT_FAIL_UNAVAILABLE] = EXIT_UNAVAILABLE,
	    [AGENT_FAIL_CANTCREAT] = EXIT_CANTCREAT,
	    [AGENT_FAIL_NOPERM] = EXIT_NOPERM,
	    [AGENT_FAIL_CONFIG] = EXIT_CONFIG,
	    [AGENT_FAIL_NOEXEC] = EXIT_EXEC_NOT_EXECUTABLE,
	    [AGENT_FAIL_NOTFOUND] = EXIT_EXEC_NOT_FOUND,
	};

	if ((unsigned)failure >= sizeof(table) / sizeof(table[0]))
		return EXIT_SOFTWARE;
	return table[failure];
}
