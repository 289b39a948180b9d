/*
 * sys.c: the utility routes, GET / and GET /api/health.
 */
#include "config.h"

#include <string.h>

#include "park.h"

/*
 * GET /: the service name, version and a map of the routes, built from the
 * route table so it cannot drift.
 * Statuses: 200.
 */
void
sys_index(struct req *r, struct resp *w)
{
	struct jw jw;
	size_t i;

	(void)r;
	resp_ok(w, "parkd parking reservation API", &jw);
	jw_obj(&jw, NULL);
	jw_str(&jw, "message", "parkd parking reservation API");
	jw_str(&jw, "version", PACKAGE_VERSION);
	jw_obj(&jw, "endpoints");
	for (i = 0; i < nroutes; i++) {
		struct buf key = { 0 };

		route_allow_str(routes[i].method, &key);
		buf_putc(&key, ' ');
		buf_puts(&key, routes[i].pattern);
		jw_str(&jw, key.p, routes[i].summary);
		buf_free(&key);
	}
	jw_obj_end(&jw);
	jw_obj_end(&jw);
}

/*
 * GET /api/health: whether the database answers (else 503; on PostgreSQL
 * the check itself reconnects a lost connection), which back end it is
 * ("sqlite", "postgresql") and the state of the cache (never fatal: "up",
 * "down" or "disabled").
 * Statuses: 200, 503.
 */
void
sys_health(struct req *r, struct resp *w)
{
	struct jw jw;
	enum dbrc db = db_is_open() ? db_ping() : DB_UNAVAILABLE;
	enum cache_state cs = cache_ping();
	char ts[32];

	(void)r;
	if (db != DB_OK) {
		resp_error(w, 503, "UNAVAILABLE",
		    "Database unavailable");
		resp_header(w, "Retry-After", "5");
		return;
	}
	resp_ok(w, "healthy", &jw);
	jw_obj(&jw, NULL);
	jw_str(&jw, "status", "healthy");
	jw_str(&jw, "timestamp", time_iso(park_now(), ts));
	jw_str(&jw, "version", PACKAGE_VERSION);
	jw_obj(&jw, "checks");
	jw_str(&jw, "database", "up");
	jw_str(&jw, "database_backend", db_backend());
	jw_str(&jw, "cache", cache_state_str(cs));
	jw_obj_end(&jw);
	jw_obj_end(&jw);
}
