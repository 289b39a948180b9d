/* 04-routes: route matching (404, 405 with Allow, path parameters) and the
 * shape of the route table itself. */
#include "config.h"

#include <string.h>

#include "park.h"
#include "tap.h"

/* Matches method+path; returns the result and leaves Allow in allow. */
static enum match
m(struct req *r, enum method meth, const char *path, unsigned *allow)
{
	req_reset(r);
	return route_match(r, meth, path, allow);
}

int
main(void)
{
	struct req r;
	struct buf b = { 0 };
	unsigned allow;
	size_t i, j;

	req_init(&r);
	is_int(m(&r, M_GET, "/api/health", &allow), MATCH_OK,
	    "GET /api/health matches");
	ok(r.route != NULL && r.route->handler == sys_health,
	    "to the health handler");
	is_int(m(&r, M_HEAD, "/api/health", &allow), MATCH_OK,
	    "HEAD is served as GET");
	is_int(m(&r, M_GET, "/api/nope", &allow), MATCH_NOT_FOUND,
	    "unknown path is 404");
	is_int(m(&r, M_GET, "/api/health/", &allow), MATCH_NOT_FOUND,
	    "trailing slash is another path");
	is_int(m(&r, M_GET, "/api/healthz", &allow), MATCH_NOT_FOUND,
	    "prefix of a longer segment does not match");
	is_int(m(&r, M_DELETE, "/api/health", &allow), MATCH_BAD_METHOD,
	    "DELETE on a GET route is 405");
	route_allow_str(allow, &b);
	is_str(b.p, "GET, HEAD, OPTIONS", "Allow lists GET, HEAD, OPTIONS");
	buf_free(&b);
	is_int(m(&r, M_OTHER, "/api/health", &allow), MATCH_BAD_METHOD,
	    "an unknown method on a known path is 405");

	/* Parameters. */
	req_reset(&r);
	ok(route_pattern_match(&r, "/a/{id}/b/{id}", "/a/12/b/9007199254740991")
	    && r.pid[0] == 12 && r.pid[1] == 9007199254740991LL,
	    "two integer parameters, the largest 2^53-1");
	req_reset(&r);
	ok(!route_pattern_match(&r, "/a/{id}", "/a/9007199254740992"),
	    "2^53 refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/0"), "0 refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/012"), "leading zero refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/-1"), "sign refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/1x"), "trailing junk refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/"), "empty refused");
	ok(!route_pattern_match(&r, "/a/{id}", "/a/99999999999999999999"),
	    "overflowing digits refused");
	req_reset(&r);
	ok(route_pattern_match(&r, "/f/{s}", "/f/x.csv") &&
	    strcmp(r.pstr[0], "x.csv") == 0, "a text parameter");
	ok(!route_pattern_match(&r, "/f/{s}", "/f/a/b"),
	    "a text parameter is one segment");

	/* The table: patterns well formed, no two routes alike, every route
	 * has a handler and a summary, fields fit. */
	for (i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		int good = rt->handler != NULL && rt->summary != NULL &&
		    rt->pattern[0] == '/' && rt->nfields <= MAX_FIELDS;

		for (j = 0; j < i; j++)
			if (routes[j].method == rt->method &&
			    strcmp(routes[j].pattern, rt->pattern) == 0)
				good = 0;
		ok(good, "route %zu (%s) is well formed and unique", i,
		    rt->pattern);
	}
	pool_free(&r.pool);
	return done_testing();
}
