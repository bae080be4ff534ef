/* Growable lists of strings. */
#include "config/strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strlist_push(struct strlist *l, const char *item)
{
	char *copy = strdup(item);
	char **grown;

	if (!copy)
		return -ENOMEM;
	grown = realloc(l->items, (l->n + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	l->items = grown;
	l->items[l->n++] = copy;
	return 0;
}

int strlist_append_words(struct strlist *l, const char *text, bool commas)
{
	const char *seps = commas ? " \t\r\n\v\f," : " \t\r\n\v\f";
	char *copy = strdup(text);
	char *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
		r = strlist_push(l, w);
		if (r < 0)
			goto out;
	}
out:
	free(copy);
	return r;
}

bool strlist_contains(const struct strlist *l, const char *item)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], item) == 0)
			return true;
	return false;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}
