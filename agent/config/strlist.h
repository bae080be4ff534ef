/* Growable lists of strings (struct strlist, declared in config.h). */
#ifndef AGENT_CONFIG_STRLIST_H
#define AGENT_CONFIG_STRLIST_H

#include "config/model.h"

#include <stdbool.h>

/* Return 0 or -ENOMEM. */
int strlist_push(struct strlist *l, const char *item);
/* Appends the words of `text`, split on whitespace (and on commas when `commas`). */
int strlist_append_words(struct strlist *l, const char *text, bool commas);
bool strlist_contains(const struct strlist *l, const char *item);
void strlist_free(struct strlist *l);

#endif
