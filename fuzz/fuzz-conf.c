/*
 * fuzz-conf: the settings file parser.  Any file either loads into values
 * within their bounds or is refused with a message; never a crash, never
 * a secret in the message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "park.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct conf c;
	struct buf err = { 0 };
	FILE *f;
	int fd, rc;

	if (path[0] == '\0') {
		log_init("fuzz");
		snprintf(path, sizeof(path), "/tmp/parkd-fuzz-conf-XXXXXX");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
	}
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	rc = conf_load(&c, path, 0, &err);
	if (rc == 0) {
		if (c.workers < 1 || c.workers > 64 || c.max_body < 1)
			abort();
		(void)conf_check_server(&c, &err);
		conf_free(&c);
	} else if (err.len == 0)
		abort();	/* refused without saying why */
	buf_free(&err);
	return 0;
}
