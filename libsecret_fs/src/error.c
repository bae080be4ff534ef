#include "secret_fs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sfs_error_set(struct sfs_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

void sfs_error_prefix(struct sfs_error *err, const char *fmt, ...)
{
	char old[SFS_ERROR_MAX];
	size_t n;
	va_list ap;

	if (!err)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 3);
		strncat(err->msg, old, sizeof(err->msg) - n - 3);
	}
}

void sfs_warn(struct sfs_warnings *w, const char *fmt, ...)
{
	va_list ap;

	if (!w)
		return;
	if (w->count >= SFS_WARNINGS_MAX) {
		w->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(w->msg[w->count], SFS_WARNING_LEN, fmt, ap);
	va_end(ap);
	w->count++;
}
