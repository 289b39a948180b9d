/*
 * routes.c: THE route table.  Reading it tells the whole API: each route's
 * method, path, who may call it, the input it takes and its handler.
 * docs/openapi.yaml describes exactly these routes (t/52-openapi.t keeps
 * the two equal).
 *
 * Patterns: literal segments, "{id}" (a positive integer, into req->pid[])
 * and "{s}" (any non-empty segment, into req->pstr[]).
 */
#include "config.h"

#include <string.h>

#include "park.h"

#define NF(a) (sizeof(a) / sizeof((a)[0]))
#define ROUTE(m, p, ac, h, f, s) { m, p, ac, h, f, NF(f), s, 0 }
#define ROUTE0(m, p, ac, h, s) { m, p, ac, h, NULL, 0, s, 0 }
/* The same, open to an unverified address (struct route). */
#define ROUTEV(m, p, ac, h, f, s) { m, p, ac, h, f, NF(f), s, 1 }
#define ROUTE0V(m, p, ac, h, s) { m, p, ac, h, NULL, 0, s, 1 }

/* Input tables: the order is the index into req->in[] that the handler
 * uses (its enum). */
static const struct field f_register[] = {
	{ "username", FT_STR, FS_BODY, 1, 1, 200, valid_username, 0 },
	{ "email", FT_STR, FS_BODY, 1, 1, 320, valid_email, 0 },
	{ "password", FT_STR, FS_BODY, 1, 1, 1024, valid_password, 0 },
	{ "phone", FT_STR, FS_BODY, 0, 0, 40, valid_phone, 1 },
};
static const struct field f_login[] = {
	{ "username", FT_STR, FS_BODY, 1, 1, 320, NULL, 0 },
	{ "password", FT_STR, FS_BODY, 1, 1, 1024, NULL, 0 },
	{ "remember_me", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 1 },
};
static const struct field f_profile[] = {
	{ "username", FT_STR, FS_BODY, 0, 1, 200, valid_username, 0 },
	{ "email", FT_STR, FS_BODY, 0, 1, 320, valid_email, 0 },
	{ "phone", FT_STR, FS_BODY, 0, 0, 40, valid_phone, 1 },
	/* required to change the e-mail (users.c) */
	{ "current_password", FT_STR, FS_BODY, 0, 1, 1024, NULL, 0 },
};
static const struct field f_password[] = {
	{ "current_password", FT_STR, FS_BODY, 1, 1, 1024, NULL, 0 },
	{ "new_password", FT_STR, FS_BODY, 1, 1, 1024, valid_password, 0 },
};
static const struct field f_forgot[] = {
	{ "email", FT_STR, FS_BODY, 1, 1, 320, valid_email, 0 },
};
static const struct field f_reset[] = {
	{ "token", FT_STR, FS_BODY, 1, 1, 200, NULL, 0 },
	{ "new_password", FT_STR, FS_BODY, 1, 1, 1024, valid_password, 0 },
};
static const struct field f_verify[] = {
	{ "token", FT_STR, FS_BODY, 1, 1, 200, NULL, 0 },
};
static const struct field f_users[] = {
	{ "limit", FT_INT, FS_QUERY, 0, 1, 100, NULL, 0 },
	{ "offset", FT_INT, FS_QUERY, 0, 0, 1000000000, NULL, 0 },
	{ "q", FT_STR, FS_QUERY, 0, 1, 100, NULL, 0 },
};
static const struct field f_lot_create[] = {
	{ "prime_location_name", FT_STR, FS_BODY, 1, 1, 400, valid_lot_name,
	    0 },
	{ "address", FT_STR, FS_BODY, 1, 1, 2000, valid_address, 0 },
	{ "pin_code", FT_STR, FS_BODY, 1, 1, 10, valid_pin_code, 0 },
	{ "number_of_spots", FT_INT, FS_BODY, 1, 1, 1000, NULL, 0 },
	{ "price", FT_MONEY, FS_BODY, 1, 0, 1000000, NULL, 0 },
	{ "description", FT_STR, FS_BODY, 0, 0, 1000, NULL, 1 },
	{ "operating_hours_start", FT_STR, FS_BODY, 0, 5, 5, valid_hhmm, 1 },
	{ "operating_hours_end", FT_STR, FS_BODY, 0, 5, 5, valid_hhmm, 1 },
	{ "is_active", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 0 },
};
static const struct field f_lot_update[] = {
	{ "prime_location_name", FT_STR, FS_BODY, 0, 1, 400, valid_lot_name,
	    0 },
	{ "address", FT_STR, FS_BODY, 0, 1, 2000, valid_address, 0 },
	{ "pin_code", FT_STR, FS_BODY, 0, 1, 10, valid_pin_code, 0 },
	{ "number_of_spots", FT_INT, FS_BODY, 0, 1, 1000, NULL, 0 },
	{ "price", FT_MONEY, FS_BODY, 0, 0, 1000000, NULL, 0 },
	{ "description", FT_STR, FS_BODY, 0, 0, 1000, NULL, 1 },
	{ "operating_hours_start", FT_STR, FS_BODY, 0, 5, 5, valid_hhmm, 1 },
	{ "operating_hours_end", FT_STR, FS_BODY, 0, 5, 5, valid_hhmm, 1 },
	{ "is_active", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 0 },
	/* shrinking or closing a lot with upcoming reservations */
	{ "cancel_reservations", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 0 },
};
static const struct field f_lot_delete[] = {
	{ "cancel_reservations", FT_STR, FS_QUERY, 0, 4, 5, valid_truth, 0 },
};
static const struct field f_book[] = {
	{ "vehicle_number", FT_STR, FS_BODY, 0, 1, 40, valid_vehicle, 1 },
};
static const struct field f_release[] = {
	{ "reservation_id", FT_INT, FS_BODY, 0, 1, 9007199254740991LL, NULL,
	    1 },
};
static const struct field f_history[] = {
	{ "limit", FT_INT, FS_QUERY, 0, 1, 100, NULL, 0 },
	{ "offset", FT_INT, FS_QUERY, 0, 0, 1000000000, NULL, 0 },
	{ "status", FT_STR, FS_QUERY, 0, 1, 20, valid_resv_status, 0 },
	{ "upcoming", FT_STR, FS_QUERY, 0, 4, 5, valid_truth, 0 },
};
/* windows: RFC 3339, on the grid; resv_window() checks the rest */
static const struct field f_window[] = {
	{ "start", FT_STR, FS_QUERY, 1, 20, 40, valid_window_time, 0 },
	{ "end", FT_STR, FS_QUERY, 1, 20, 40, valid_window_time, 0 },
};
static const struct field f_lot_list[] = {
	{ "start", FT_STR, FS_QUERY, 0, 20, 40, valid_window_time, 0 },
	{ "end", FT_STR, FS_QUERY, 0, 20, 40, valid_window_time, 0 },
};
static const struct field f_day[] = {
	{ "date", FT_STR, FS_QUERY, 1, 10, 10, valid_date, 0 },
};
static const struct field f_reserve[] = {
	{ "start", FT_STR, FS_BODY, 1, 20, 40, valid_window_time, 0 },
	{ "end", FT_STR, FS_BODY, 1, 20, 40, valid_window_time, 0 },
	{ "vehicle_number", FT_STR, FS_BODY, 0, 1, 40, valid_vehicle, 1 },
};
static const struct field f_resv_id[] = {
	{ "reservation_id", FT_INT, FS_BODY, 1, 1, 9007199254740991LL, NULL,
	    0 },
};
static const struct field f_export[] = {
	{ "email", FT_STR, FS_BODY, 0, 1, 320, valid_email, 1 },
};
static const struct field f_admin_resv[] = {
	{ "lot_id", FT_INT, FS_QUERY, 0, 1, 9007199254740991LL, NULL, 0 },
	{ "user_id", FT_INT, FS_QUERY, 0, 1, 9007199254740991LL, NULL, 0 },
	{ "status", FT_STR, FS_QUERY, 0, 1, 20, valid_resv_status, 0 },
	{ "from", FT_STR, FS_QUERY, 0, 10, 20, valid_iso_time, 0 },
	{ "to", FT_STR, FS_QUERY, 0, 10, 20, valid_iso_time, 0 },
	{ "limit", FT_INT, FS_QUERY, 0, 1, 100, NULL, 0 },
	{ "offset", FT_INT, FS_QUERY, 0, 0, 1000000000, NULL, 0 },
};

const struct route routes[] = {
	/* utility */
	ROUTE0(M_GET, "/", AC_ANON, sys_index,
	    "Service name, version and a map of the main routes"),
	ROUTE0(M_GET, "/api/health", AC_ANON, sys_health,
	    "Health of the service and its database and cache"),
	/* not under /api/: nginx passes it from its allowed addresses only
	 * (and metrics.c checks PARKD_METRICS_ALLOW) */
	ROUTE0(M_GET, "/metrics", AC_ANON, metrics_scrape,
	    "Prometheus metrics of every worker (allowed addresses only)"),

	/* accounts */
	ROUTE(M_POST, "/api/auth/register", AC_ANON, auth_register,
	    f_register, "Register a user"),
	ROUTE(M_POST, "/api/auth/login", AC_ANON, auth_login, f_login,
	    "Log in with a username or e-mail; returns tokens"),
	ROUTE0(M_POST, "/api/auth/refresh", AC_REFRESH, auth_refresh,
	    "Rotate the refresh token; returns new tokens"),
	ROUTE0V(M_POST, "/api/auth/logout", AC_AUTH, auth_logout,
	    "End the session of the token"),
	ROUTE0V(M_GET, "/api/auth/me", AC_AUTH, auth_me,
	    "The caller's account"),
	ROUTE0V(M_GET, "/api/user/profile", AC_USER, users_profile,
	    "The caller's user object"),
	ROUTEV(M_POST, "/api/user/profile/update", AC_USER,
	    users_profile_update, f_profile, "Change username, e-mail or phone"),
	ROUTE(M_POST, "/api/user/password", AC_USER, users_password,
	    f_password, "Change the password; ends the other sessions"),
	/* account recovery (recovery.c) */
	ROUTE(M_POST, "/api/auth/forgot-password", AC_ANON, recovery_forgot,
	    f_forgot, "E-mail a password reset link (same answer for any "
	    "address)"),
	ROUTE(M_POST, "/api/auth/reset-password", AC_ANON, recovery_reset,
	    f_reset, "Set a new password with a reset link's token; ends every "
	    "session"),
	ROUTE(M_POST, "/api/auth/verify-email", AC_ANON, recovery_verify,
	    f_verify, "Verify the e-mail address with a link's token"),
	ROUTE0V(M_POST, "/api/user/verify-email/resend", AC_USER,
	    recovery_resend, "E-mail a new verification link"),

	/* the admin's view of users */
	ROUTE(M_GET, "/api/admin/users", AC_ADMIN, users_admin_list, f_users,
	    "Users, paged and searchable"),
	ROUTE0(M_POST, "/api/admin/users/{id}/deactivate", AC_ADMIN,
	    users_admin_deactivate, "Deactivate a user and end its sessions"),
	ROUTE0(M_POST, "/api/admin/users/{id}/activate", AC_ADMIN,
	    users_admin_activate, "Activate a user"),

	/* the admin's lots */
	ROUTE(M_POST, "/api/admin/pkl/create", AC_ADMIN, lots_admin_create,
	    f_lot_create, "Create a lot with spots 1..number_of_spots"),
	ROUTE(M_POST, "/api/admin/pkl/update/{id}", AC_ADMIN,
	    lots_admin_update, f_lot_update,
	    "Change a lot; a new number_of_spots resizes it"),
	ROUTE(M_DELETE, "/api/admin/pkl/delete/{id}", AC_ADMIN,
	    lots_admin_delete, f_lot_delete,
	    "Delete a lot (kept as history if it has any)"),
	ROUTE0(M_GET, "/api/admin/pkl/list", AC_ADMIN, lots_admin_list,
	    "Every lot, inactive ones included"),
	ROUTE0(M_GET, "/api/admin/pkl/{id}", AC_ADMIN, lots_admin_get,
	    "A lot with its spot grid"),
	ROUTE(M_GET, "/api/admin/pkl/{id}/timeline", AC_ADMIN,
	    resv_admin_timeline, f_day,
	    "A lot's day (site time zone) as a timeline per spot"),
	ROUTE(M_GET, "/api/admin/reservations", AC_ADMIN, resv_admin_list,
	    f_admin_resv, "Every reservation, filtered and paged"),
	ROUTE0(M_GET, "/api/admin/summary", AC_ADMIN, resv_admin_summary,
	    "Occupancy, revenue and bookings per day"),

	/* a user's parking */
	ROUTE(M_GET, "/api/user/pkl/list", AC_USER, lots_user_list,
	    f_lot_list, "The lots a user can book (free for a window)"),
	ROUTE(M_POST, "/api/user/pkl/book/{id}", AC_USER, resv_book, f_book,
	    "Book the first free spot of a lot"),
	ROUTE(M_POST, "/api/user/pkl/release", AC_USER, resv_release,
	    f_release, "Release a reservation and pay"),
	ROUTE(M_GET, "/api/user/pkl/book/list", AC_USER, resv_list, f_history,
	    "The caller's reservations, newest first"),
	ROUTE(M_GET, "/api/user/pkl/availability/{id}", AC_USER,
	    resv_availability, f_window,
	    "How many spots of a lot are free for a window"),
	ROUTE(M_GET, "/api/user/pkl/slots/{id}", AC_USER, resv_slots, f_day,
	    "Free spots of each grid slot of a day"),
	ROUTE(M_POST, "/api/user/pkl/reserve/{id}", AC_USER, resv_reserve,
	    f_reserve, "Reserve a spot of a lot for a window"),
	ROUTE(M_POST, "/api/user/pkl/checkin", AC_USER, resv_checkin,
	    f_resv_id, "Check in a reservation"),
	ROUTE(M_POST, "/api/user/pkl/cancel", AC_USER, resv_cancel,
	    f_resv_id, "Cancel a reservation before its start"),
	ROUTE0(M_GET, "/api/user/summary", AC_USER, resv_summary,
	    "The caller's active reservation, bookings, hours and spending"),

	/* a user's CSV exports: queued here, written by "parkctl exports";
	 * the download also takes the signed link of the e-mail (AC_LINK) */
	ROUTE(M_POST, "/api/user/export-csv", AC_USER, exports_request,
	    f_export, "Queue a CSV export of the caller's reservations"),
	ROUTE0(M_GET, "/api/user/export-status/{s}", AC_USER, exports_status,
	    "The state of one of the caller's exports"),
	ROUTE0(M_GET, "/api/user/download-csv/{s}", AC_LINK, exports_download,
	    "Download an export file (access token or signed link)"),
};
const size_t nroutes = NF(routes);

/*
 * Matches one pattern against a path.  Returns 1 and fills the parameters
 * when it matches.  Integer parameters are 1 to 2^53 - 1 (what a JSON
 * client can hold), written without sign or leading zero.
 */
int
route_pattern_match(struct req *r, const char *pat, const char *path)
{
	const char *ps, *pe;
	long long v;
	size_t ni = 0, ns = 0, n;

	while (*pat != '\0' && *path != '\0') {
		if (*pat != '{') {
			if (*pat++ != *path++)
				return 0;
			continue;
		}
		ps = path;
		pe = ps + strcspn(ps, "/");
		if (pe == ps)
			return 0;
		if (strncmp(pat, "{id}", 4) == 0) {
			if (*ps == '0' || pe - ps > 16)
				return 0;
			for (v = 0; ps < pe; ps++) {
				if (*ps < '0' || *ps > '9')
					return 0;
				v = v * 10 + (*ps - '0');
			}
			if (v > 9007199254740991LL || ni == 2)
				return 0;
			r->pid[ni++] = v;
			pat += 4;
		} else if (strncmp(pat, "{s}", 3) == 0) {
			if (ns == 2)
				return 0;
			n = (size_t)(pe - ps);
			r->pstr[ns++] = pool_strndup(&r->pool, ps, n);
			pat += 3;
		} else
			fatal("bad route pattern %s", pat);
		path = pe;
	}
	return *pat == '\0' && *path == '\0';
}

enum match
route_match(struct req *r, enum method m, const char *path, unsigned *allow)
{
	const struct route *found = NULL;
	size_t i;

	*allow = 0;
	if (m == M_HEAD)
		m = M_GET;
	for (i = 0; i < nroutes; i++) {
		if (!route_pattern_match(r, routes[i].pattern, path))
			continue;
		*allow |= routes[i].method;
		if (routes[i].method == m && found == NULL) {
			found = &routes[i];
			/* Keep this route's parameters: match it again, as
			 * other patterns may have overwritten them. */
			break;
		}
	}
	if (found != NULL) {
		memset(r->pid, 0, sizeof(r->pid));
		memset(r->pstr, 0, sizeof(r->pstr));
		(void)route_pattern_match(r, found->pattern, path);
		r->route = found;
		return MATCH_OK;
	}
	if (*allow == 0)
		return MATCH_NOT_FOUND;
	if (*allow & M_GET)
		*allow |= M_HEAD;
	*allow |= M_OPTIONS;
	return MATCH_BAD_METHOD;
}

void
route_allow_str(unsigned allow, struct buf *out)
{
	static const struct {
		unsigned m;
		const char *name;
	} names[] = {
		{ M_GET, "GET" }, { M_HEAD, "HEAD" }, { M_POST, "POST" },
		{ M_PUT, "PUT" }, { M_PATCH, "PATCH" },
		{ M_DELETE, "DELETE" }, { M_OPTIONS, "OPTIONS" },
	};
	size_t i;
	int first = 1;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(allow & names[i].m))
			continue;
		if (!first)
			buf_puts(out, ", ");
		buf_puts(out, names[i].name);
		first = 0;
	}
}
