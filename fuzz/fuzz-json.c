/*
 * fuzz-json: the strict body parser and its typed getters, and the writer
 * on whatever came out.  Whatever the parser accepts must also pass
 * json_check(), and every typed value must respect its field's bounds.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"

static const struct field fields[] = {
	{ "s", FT_STR, FS_BODY, 0, 0, 100, NULL, 1 },
	{ "i", FT_INT, FS_BODY, 0, -1000, 1000, NULL, 0 },
	{ "b", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 1 },
	{ "m", FT_MONEY, FS_BODY, 0, 0, 1000000, NULL, 0 },
	{ "email", FT_STR, FS_BODY, 0, 1, 320, valid_email, 0 },
	{ "vehicle_number", FT_STR, FS_BODY, 0, 1, 40, valid_vehicle, 1 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct req r;
	static struct resp w;
	static int ready;
	struct buf b = { 0 };
	struct jw jw;
	size_t i;
	int rc;

	if (!ready) {
		log_init("fuzz");
		req_init(&r);
		resp_init(&w);
		ready = 1;
	}
	req_reset(&r);
	resp_reset(&w);
	r.body = pool_strndup(&r.pool, (const char *)data, size);
	r.bodylen = size;
	rc = json_parse_body(&r, fields, NFIELDS, &w);
	/* An empty body is no body; anything else accepted by one strict
	 * path must be accepted by the other. */
	if (rc == 0 && size > 0 && json_check((const char *)data, size) != 0)
		abort();
	if (rc != 0 && w.status != 400)
		abort();
	if (rc == 0) {
		for (i = 0; i < NFIELDS; i++) {
			if (!r.in[i].set)
				continue;
			if (fields[i].type == FT_STR &&
			    (strlen(r.in[i].s) != r.in[i].len ||
			    !valid_utf8_text(r.in[i].s, r.in[i].len, 1)))
				abort();
			if ((fields[i].type == FT_INT ||
			    fields[i].type == FT_MONEY) &&
			    (r.in[i].i < fields[i].min ||
			    r.in[i].i > fields[i].max))
				abort();
		}
		/* Write back what was read: must be strict JSON too. */
		jw_init(&jw, &b);
		jw_obj(&jw, NULL);
		for (i = 0; i < NFIELDS; i++) {
			if (!r.in[i].set)
				continue;
			if (fields[i].type == FT_STR)
				jw_strn(&jw, fields[i].name, r.in[i].s,
				    r.in[i].len);
			else if (fields[i].type == FT_MONEY)
				jw_money(&jw, fields[i].name, r.in[i].i);
			else
				jw_int(&jw, fields[i].name, r.in[i].i);
		}
		jw_obj_end(&jw);
		if (json_check(b.p, b.len) != 0)
			abort();
		buf_free(&b);
	}
	return 0;
}
