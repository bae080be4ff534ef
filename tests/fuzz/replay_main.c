/* Replays a libFuzzer corpus through a harness without libFuzzer, so the normal (gcc) build
 * runs every corpus entry under CTest: `replay DIR|FILE...`. Exit 0 when every input ran. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, unsigned long *count)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;
	int rc = -1;

	if (!f)
		goto out;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		goto out;
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	(*count)++;
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
	free(buf);
	if (f)
		fclose(f);
	return rc;
}

static int replay_path(const char *path, unsigned long *count)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	int rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char child[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		if (replay_path(child, count) < 0)
			rc = -1;
	}
	closedir(dir);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) < 0)
			rc = 1;
	printf("replayed %lu inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return rc;
}
