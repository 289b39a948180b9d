/*
 * fuzz-request: the front line.  The input is split at NUL bytes into
 * method, path+query, content type, Authorization and body; the request
 * goes through front_handle() and http_render() against a real (temporary)
 * database with the schema and sample data, Redis disabled.
 *
 * Checked for every input: the status is one the API may send for bad
 * input (never a 500), and the body is strict JSON.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "park.h"

static int ready;

static void
setup(void)
{
	static char path[] = "/tmp/parkd-fuzz-request-XXXXXX";
	static char secret[] = "fuzz-secret-0123456789abcdef0123456789abcdef";
	static char issuer[] = "parkd", any[] = "*", admin[] = "admin@fuzz.test";
	char db[64];
	int fd;

	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
	snprintf(db, sizeof(db), "%s", path);
	log_init("fuzz");
	conf.jwt_secret_key = secret;
	conf.jwt_issuer = issuer;
	conf.cors_origins = any;
	conf.admin_email = admin;
	conf.max_body = 65536;
	conf.jwt_access_ttl_s = 900;
	conf.jwt_refresh_ttl_s = 86400;
	conf.jwt_refresh_remember_ttl_s = 86400;
	conf.login_max_failures = 10;
	conf.login_window_s = 900;
	conf.max_active_bookings = 5;
	/* advance reservations: conf.c's defaults (the grid divides) */
	conf.resv_grid_min = 15;
	conf.resv_min_min = 30;
	conf.resv_max_min = 1440;
	conf.resv_days_ahead = 30;
	conf.resv_limit = 5;
	conf.walkin_hold_min = 240;
	conf.checkin_early_min = 15;
	conf.checkin_grace_min = 30;
	conf.no_show_charge_min = 60;
	conf.resv_reminder_min = 60;
	conf.overstay_guard_min = 30;
	/* Hashing is the slow part of a login: keep it cheap here. */
	conf.scrypt_n = 16;
	conf.scrypt_r = 1;
	conf.scrypt_p = 1;
	conf.db_busy_timeout_ms = 1000;
	unlink(path);
	if (db_open(path, 1) != DB_OK || db_reset_sample() != DB_OK)
		abort();
	cache_init("", NULL, 100, 1);
	ready = 1;
}

/* Takes the next NUL-separated part of the input. */
static char *
part(const uint8_t **p, size_t *n, struct pool *pool, size_t *len)
{
	const uint8_t *end = memchr(*p, 0, *n);
	size_t l = end != NULL ? (size_t)(end - *p) : *n;
	char *s = pool_strndup(pool, (const char *)*p, l);

	*len = l;
	*p += l + (end != NULL);
	*n -= l + (end != NULL);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct req r;
	static struct resp w;
	static struct buf out;
	char *body, *uri, *q;
	size_t len;

	if (!ready) {
		setup();
		req_init(&r);
		resp_init(&w);
	}
	req_reset(&r);
	resp_reset(&w);
	buf_reset(&out);
	r.method_str = part(&data, &size, &r.pool, &len);
	r.method = http_method(r.method_str);
	uri = part(&data, &size, &r.pool, &len);
	if ((q = strchr(uri, '?')) != NULL) {
		*q = '\0';
		r.query = q + 1;
	}
	r.path = http_pct_decode(&r.pool, uri, strlen(uri));
	r.content_type = part(&data, &size, &r.pool, &len);
	r.authorization = part(&data, &size, &r.pool, &len);
	r.remote_addr = "127.0.0.1";
	body = part(&data, &size, &r.pool, &len);
	if (len > 0) {
		r.body = body;
		r.bodylen = len;
	}
	front_handle(&r, &w);
	http_render(&r, &w, &out);

	switch (w.status) {
	case 200: case 204: case 400: case 401: case 403: case 404: case 405:
	case 409: case 413: case 415: case 429: case 503:
		break;
	default:
		fprintf(stderr, "unexpected status %d\n", w.status);
		abort();
	}
	if (w.status != 204 && r.method != M_HEAD) {
		const char *b = strstr(out.p, "\r\n\r\n");

		if (b == NULL || json_check(b + 4, strlen(b + 4)) != 0) {
			fprintf(stderr, "body is not strict JSON\n");
			abort();
		}
	}
	return 0;
}
