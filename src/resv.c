/*
 * resv.c: reservations.  Users book the first free spot of a lot, release
 * it (paying by the started hour), and page through their history; the
 * admin lists every reservation with filters and sees the dashboard.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "park.h"

/*
 * Writes the reservation object of the contract; duration_str is "2h 5m",
 * with " (ongoing)" while active.  The old backend's keys keep their old
 * meaning (flask-database.md 2.5): parking_cost is 0.0 until a cost is
 * known (a client formatting it must never meet null); is_completed;
 * is_overdue is active past its end_time (a checked-in reservation) or
 * past expected_leaving_time (which walk-ins never have); vehicle_model,
 * vehicle_color and expected_leaving_time are null unless the importer
 * found them in the old database (sql/010-old-keys.sql).  start_time is the window's
 * start, or a walk-in's arrival; end_time is null for a walk-in
 * (sql/013-windows.sql).
 */
void
resv_json(struct jw *jw, const char *key, const struct resv *v)
{
	char dur[64], ident[160];
	int64_t now = park_now();
	int64_t end = v->leaving_ts > 0 ? v->leaving_ts : now;
	int64_t s = end > v->parking_ts ? end - v->parking_ts : 0;
	int active = strcmp(v->status, "active") == 0;
	int reserved = strcmp(v->status, "reserved") == 0;

	if (reserved)
		s = v->end_time - v->start_time; /* the window's length */
	snprintf(dur, sizeof(dur), "%lldh %lldm%s", (long long)(s / 3600),
	    (long long)(s % 3600 / 60), v->leaving_ts > 0 || reserved ? "" :
	    " (ongoing)");
	jw_obj(jw, key);
	jw_int(jw, "id", v->id);
	jw_int(jw, "spot_id", v->spot_id);
	jw_int(jw, "spot_number", v->spot_number);
	jw_int(jw, "lot_id", v->lot_id);
	jw_str(jw, "lot_name", v->lot_name);
	jw_int(jw, "user_id", v->user_id);
	jw_str(jw, "username", v->username);
	jw_str(jw, "vehicle_number", v->vehicle);
	jw_str(jw, "vehicle_model", v->vehicle_model);
	jw_str(jw, "vehicle_color", v->vehicle_color);
	jw_time(jw, "parking_timestamp", v->parking_ts);
	jw_time(jw, "leaving_timestamp", v->leaving_ts);
	jw_time(jw, "expected_leaving_time", v->expected_leaving_ts);
	jw_time(jw, "start_time", v->start_time > 0 ? v->start_time :
	    v->parking_ts);
	jw_time(jw, "end_time", v->end_time);
	jw_money(jw, "hourly_rate", v->hourly_cents);
	jw_money(jw, "parking_cost", v->has_cost ? v->cost_cents : 0);
	jw_str(jw, "status", v->status);
	jw_str(jw, "duration_str", dur);
	jw_bool(jw, "is_active", active);
	jw_bool(jw, "is_completed", strcmp(v->status, "completed") == 0 &&
	    v->leaving_ts > 0);
	jw_bool(jw, "is_overdue", active && ((v->end_time > 0 &&
	    now > v->end_time) || (v->expected_leaving_ts > 0 &&
	    now > v->expected_leaving_ts)));
	snprintf(ident, sizeof(ident), "%s-%d", v->lot_name ? v->lot_name :
	    "", v->spot_number);
	jw_str(jw, "spot_identifier", ident);
	jw_str(jw, "remarks", v->remarks);
	jw_time(jw, "created_at", v->created_at);
	jw_time(jw, "updated_at", v->updated_at);
	jw_obj_end(jw);
}

/*
 * THE answers of the booking outcomes other than success, for walk-ins
 * (enum book, through book_out[]), reservations, check-ins and cancels.
 * A NULL text is made by resv_refused() (it names a setting).
 */
static const struct refusal {
	int status;
	const char *code, *text;
} refusals[RESV__COUNT] = {
	[RESV_NO_LOT] = { 404, "NOT_FOUND", "Parking lot not found" },
	[RESV_NOT_FOUND] = { 404, "NOT_FOUND", "Reservation not found" },
	[RESV_INACTIVE] = { 409, "LOT_INACTIVE",
	    "This parking lot is not accepting bookings" },
	[RESV_HOURS] = { 400, "OUTSIDE_OPERATING_HOURS",
	    "The window is not inside the lot's opening hours" },
	[RESV_FULL] = { 409, "LOT_FULL", "No available spots" },
	[RESV_LIMIT] = { 409, "RESERVATION_LIMIT", NULL },
	[RESV_OVERLAP] = { 409, "OVERLAPPING_RESERVATION", "You already hold "
	    "a reservation for this vehicle that overlaps the window" },
	[RESV_STATE] = { 409, "CONFLICT",
	    "The reservation is not waiting for check-in" },
	[RESV_TOO_EARLY] = { 409, "CHECKIN_TOO_EARLY",
	    "Check-in opens shortly before the reservation starts" },
	[RESV_EXPIRED] = { 409, "RESERVATION_EXPIRED",
	    "The reservation expired: it was not checked in in time" },
	[RESV_OCCUPIED] = { 409, "SPOT_OCCUPIED", "The spot is still "
	    "occupied and no other spot is free for the window" },
	[RESV_STARTED] = { 409, "RESERVATION_STARTED",
	    "The reservation has started: it can only be checked in" },
	[RESV_BOOK_LIMIT] = { 409, "BOOKING_LIMIT", NULL },
};

/* enum book as the outcomes above */
static const enum resv_out book_out[] = {
	[BOOK_OK] = RESV_OK, [BOOK_NO_LOT] = RESV_NO_LOT,
	[BOOK_INACTIVE] = RESV_INACTIVE, [BOOK_FULL] = RESV_FULL,
	[BOOK_LIMIT] = RESV_BOOK_LIMIT,
};

/* Sends the answer of an outcome other than RESV_OK (refusals[]; one
 * not in it: 409 CONFLICT). */
static void
resv_refused(struct req *r, struct resp *w, enum resv_out how)
{
	const struct refusal *f = how > RESV_OK && how < RESV__COUNT &&
	    refusals[how].status != 0 ? &refusals[how] : NULL;

	if (f == NULL) {
		resp_error(w, 409, "CONFLICT", "The request conflicts with "
		    "the current state");
		return;
	}
	if (how == RESV_LIMIT)
		resp_error(w, f->status, f->code, pool_printf(&r->pool,
		    "You already hold %d upcoming reservations",
		    conf.resv_limit));
	else if (how == RESV_BOOK_LIMIT)
		resp_error(w, f->status, f->code, pool_printf(&r->pool,
		    "You already hold %d active reservations; release one "
		    "first", conf.max_active_bookings));
	else
		resp_error(w, f->status, f->code, f->text);
	if (how == RESV_HOURS)
		resp_detail(w, "start", "the window must lie inside one "
		    "opening period of the lot");
}

enum { BOOK_VEHICLE };

/*
 * POST /api/user/pkl/book/{id}: the free spot with the lowest number in
 * the lot, at the lot's current price.
 * Statuses: 200, 400, 401, 403, 404, 409 (LOT_FULL, LOT_INACTIVE,
 * BOOKING_LIMIT), 503.
 */
void
resv_book(struct req *r, struct resp *w)
{
	const struct val *veh = &r->in[BOOK_VEHICLE];
	struct resv v;
	struct jw jw;
	enum book how;
	enum dbrc rc;

	rc = db_book(&r->pool, r->pid[0], r->who.user_id, veh->set ? veh->s :
	    NULL, &v, &how);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how != BOOK_OK) {
		resv_refused(r, w, book_out[how]);
		return;
	}
	metrics_inc(MX_BOOKINGS);
	resp_ok(w, "Spot booked successfully", &jw);
	resv_json(&jw, NULL, &v);
}

enum { REL_ID };

/*
 * POST /api/user/pkl/release: completes the caller's reservation named by
 * reservation_id, or the oldest active one; the cost is the hourly rate
 * times the started hours (at least one).
 * Statuses: 200, 400, 401, 403, 404 (not the caller's), 409
 * (NO_ACTIVE_RESERVATION), 503.
 */
void
resv_release(struct req *r, struct resp *w)
{
	const struct val *rid = &r->in[REL_ID];
	struct resv v;
	struct jw jw;
	enum release how;
	enum dbrc rc;

	rc = db_release(&r->pool, r->who.user_id, rid->set ? rid->i : 0, &v,
	    &how);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how == RELEASE_NOT_FOUND) {
		resp_error(w, 404, "NOT_FOUND", "Reservation not found");
		return;
	}
	if (how == RELEASE_NONE) {
		resp_error(w, 409, "NO_ACTIVE_RESERVATION",
		    "No active reservation to release");
		return;
	}
	/* its charge is counted by the database (lots.revenue_cents_total) */
	metrics_inc(MX_RELEASES);
	resp_ok(w, "Spot released successfully", &jw);
	resv_json(&jw, NULL, &v);
}

/* Writes a page of reservations with X-Total-Count. */
static void
resv_page(struct req *r, struct resp *w, const struct resv *v, size_t n,
    long long total)
{
	struct jw jw;
	size_t i;

	resp_ok(w, "Reservations", &jw);
	jw_arr(&jw, NULL);
	for (i = 0; i < n; i++)
		resv_json(&jw, NULL, &v[i]);
	jw_arr_end(&jw);
	resp_header(w, "X-Total-Count", pool_printf(&r->pool, "%lld", total));
}

enum { HIST_LIMIT, HIST_OFFSET, HIST_STATUS, HIST_UPCOMING };

/*
 * GET /api/user/pkl/book/list?limit&offset&status&upcoming: the caller's
 * reservations, newest first; with upcoming=true only those reserved and
 * not yet past their check-in grace, soonest first.  The total is in
 * X-Total-Count.
 * Statuses: 200, 400, 401, 403, 503.
 */
void
resv_list(struct req *r, struct resp *w)
{
	const struct val *in = r->in;
	struct resv *v;
	enum dbrc rc;
	size_t n;
	long long total;

	if (in[HIST_UPCOMING].set && strcmp(in[HIST_UPCOMING].s, "true") == 0)
		rc = db_resv_list_upcoming(&r->pool, r->who.user_id,
		    in[HIST_LIMIT].set ? (int)in[HIST_LIMIT].i : 50,
		    in[HIST_OFFSET].set ? (int)in[HIST_OFFSET].i : 0, &v, &n,
		    &total);
	else
		rc = db_resv_list_user(&r->pool, r->who.user_id,
	    in[HIST_STATUS].set ? in[HIST_STATUS].s : NULL,
	    in[HIST_LIMIT].set ? (int)in[HIST_LIMIT].i : 50,
	    in[HIST_OFFSET].set ? (int)in[HIST_OFFSET].i : 0, &v, &n, &total);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resv_page(r, w, v, n, total);
}

enum { AL_LOT, AL_USER, AL_STATUS, AL_FROM, AL_TO, AL_LIMIT, AL_OFFSET };

/*
 * GET /api/admin/reservations?lot_id&user_id&status&from&to&limit&offset:
 * every reservation, newest first, filtered; from/to bound the parking
 * time (ISO 8601 date or time, to exclusive).
 * Statuses: 200, 400, 401, 403, 503.
 */
void
resv_admin_list(struct req *r, struct resp *w)
{
	const struct val *in = r->in;
	struct resv_filter f;
	struct resv *v;
	enum dbrc rc;
	size_t n;
	long long total;

	memset(&f, 0, sizeof(f));
	f.lot_id = in[AL_LOT].set ? in[AL_LOT].i : 0;
	f.user_id = in[AL_USER].set ? in[AL_USER].i : 0;
	f.status = in[AL_STATUS].set ? in[AL_STATUS].s : NULL;
	f.from = in[AL_FROM].set ? time_parse_iso(in[AL_FROM].s) : 0;
	f.to = in[AL_TO].set ? time_parse_iso(in[AL_TO].s) : 0;
	rc = db_resv_list_admin(&r->pool, &f,
	    in[AL_LIMIT].set ? (int)in[AL_LIMIT].i : 50,
	    in[AL_OFFSET].set ? (int)in[AL_OFFSET].i : 0, &v, &n, &total);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resv_page(r, w, v, n, total);
}

/*
 * GET /api/user/summary: the caller's active reservations, bookings, hours
 * parked and total spent.  Statuses: 200, 401, 403, 503.
 */
void
resv_summary(struct req *r, struct resp *w)
{
	struct user_summary s;
	struct jw jw;
	enum dbrc rc;
	size_t i;

	if ((rc = db_summary_user(&r->pool, r->who.user_id, &s)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Summary", &jw);
	jw_obj(&jw, NULL);
	if (s.nactive > 0)
		resv_json(&jw, "active_reservation", &s.active[0]);
	else
		jw_null(&jw, "active_reservation");
	jw_arr(&jw, "active_reservations");
	for (i = 0; i < s.nactive; i++)
		resv_json(&jw, NULL, &s.active[i]);
	jw_arr_end(&jw);
	jw_int(&jw, "total_bookings", s.bookings);
	/* Hours with two decimals, written as money is: cents of an hour. */
	jw_money(&jw, "hours_parked", s.seconds / 36);
	jw_money(&jw, "total_spent", s.spent_cents);
	jw_obj_end(&jw);
}

/*
 * GET /api/admin/summary: users, lots, spots, occupancy overall and per
 * lot, active reservations, revenue today and this month (UTC), bookings
 * per day for the last 30 days, upcoming reservations and the no-show rate
 * of the last 30 days.  Served from the cache when current.
 * Statuses: 200, 401, 403, 503.
 */
void
resv_admin_summary(struct req *r, struct resp *w)
{
	struct admin_summary s;
	struct buf cached = { 0 };
	struct jw jw;
	enum dbrc rc;
	size_t i;
	char day[32], *key = NULL;
	const struct lot *l;
	long long version;

	/* The day is part of the key ("today" moves at midnight), and the
	 * sum of the lots' versions, which every booking and release moves
	 * on. */
	if (db_lot_version(0, &version) == DB_OK &&
	    cache_fetch(&r->pool, "lots", pool_printf(&r->pool,
	    "summary:%lld:%lld", (long long)(park_now() / 86400), version),
	    &cached, &key) == 0) {
		resp_ok(w, "Summary", &jw);
		jw_raw(&jw, NULL, cached.p, cached.len);
		buf_free(&cached);
		return;
	}
	buf_free(&cached);
	if ((rc = db_summary_admin(&r->pool, &s)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Summary", &jw);
	jw_obj(&jw, NULL);
	jw_int(&jw, "total_users", s.users);
	jw_int(&jw, "active_users", s.users_active);
	jw_int(&jw, "total_lots", s.lots);
	jw_int(&jw, "total_spots", s.spots);
	jw_int(&jw, "occupied_spots", s.occupied);
	jw_int(&jw, "available_spots", s.spots - s.occupied);
	jw_money(&jw, "occupancy_percent",
	    s.spots > 0 ? s.occupied * 10000 / s.spots : 0);
	jw_int(&jw, "active_reservations", s.occupied);
	jw_int(&jw, "upcoming_reservations", s.upcoming);
	jw_int(&jw, "no_shows_30d", s.no_shows_30d);
	/* of the reservations made ahead that started in the last 30 days,
	 * the share not checked in, as a percentage with 2 decimals */
	jw_money(&jw, "no_show_percent", s.no_shows_30d + s.checked_in_30d >
	    0 ? s.no_shows_30d * 10000 / (s.no_shows_30d + s.checked_in_30d) :
	    0);
	jw_money(&jw, "revenue_today", s.revenue_today);
	jw_money(&jw, "revenue_month", s.revenue_month);
	jw_arr(&jw, "lots");
	for (i = 0; i < s.nlots; i++) {
		l = &s.lot[i];
		jw_obj(&jw, NULL);
		jw_int(&jw, "id", l->id);
		jw_str(&jw, "name", l->name);
		jw_bool(&jw, "is_active", l->is_active);
		jw_int(&jw, "number_of_spots", l->number_of_spots);
		jw_int(&jw, "occupied_spots", l->occupied);
		jw_int(&jw, "available_spots", l->number_of_spots -
		    l->occupied);
		jw_money(&jw, "occupancy_percent", l->number_of_spots > 0 ?
		    (long long)l->occupied * 10000 / l->number_of_spots : 0);
		jw_obj_end(&jw);
	}
	jw_arr_end(&jw);
	jw_arr(&jw, "bookings_per_day");
	for (i = 0; i < 30; i++) {
		jw_obj(&jw, NULL);
		time_iso(s.today - (int64_t)(29 - i) * 86400, day);
		jw_strn(&jw, "date", day, 10);
		jw_int(&jw, "bookings", s.per_day[i]);
		jw_obj_end(&jw);
	}
	jw_arr_end(&jw);
	jw_obj_end(&jw);
	cache_put(key, w->data.p, w->data.len);
}

/* ---- advance reservations (api-contract.md section 4) ---- */

int
resv_window(struct req *r, struct resp *w, int is, int ie, int64_t *s,
    int64_t *e)
{
	int64_t now = park_now(), len, grid = conf.resv_grid_min * 60LL;
	const char *ps = NULL, *pe = NULL;
	int frac;

	/* the validators checked the form and the grid */
	*s = time_parse_rfc3339(r->in[is].s, &frac);
	*e = time_parse_rfc3339(r->in[ie].s, &frac);
	len = *e - *s;
	if (*e <= *s)
		pe = "must be after start";
	else if (len < conf.resv_min_min * 60LL)
		pe = pool_printf(&r->pool, "the window must be at least %d "
		    "minutes long", conf.resv_min_min);
	else if (len > conf.resv_max_min * 60LL)
		pe = pool_printf(&r->pool, "the window must be at most %d "
		    "minutes long", conf.resv_max_min);
	/* a window whose grid slot has begun may still be taken, while it
	 * can be checked in: one past start + grace would be a no-show, and
	 * charged as one, the moment it was made */
	if (*s + grid <= now)
		ps = "must not be in the past";
	else if (*s + conf.checkin_grace_min * 60LL <= now)
		ps = "must not be in the past: its check-in time has ended";
	else if (*s > now + conf.resv_days_ahead * 86400LL)
		ps = pool_printf(&r->pool, "must be at most %d days ahead",
		    conf.resv_days_ahead);
	if (ps == NULL && pe == NULL)
		return 0;
	resp_error(w, 400, "VALIDATION", "Invalid input");
	if (ps != NULL)
		resp_detail(w, "start", ps);
	if (pe != NULL)
		resp_detail(w, "end", pe);
	return -1;
}

/* Counts the spots of sp[0..n) free for [s, e). */
static int
count_free(const struct spot_holds *sp, size_t n, int64_t s, int64_t e,
    int64_t now)
{
	size_t i;
	int c = 0;

	for (i = 0; i < n; i++)
		c += holds_free(&sp[i], s, e, now);
	return c;
}

/* The earliest instant at which the holds of sp[0..n) change by the
 * clock alone (INT64_MAX: never). */
static int64_t
holds_until(const struct spot_holds *sp, size_t n)
{
	int64_t until = INT64_MAX;
	size_t i;

	for (i = 0; i < n; i++)
		if (sp[i].until != 0 && sp[i].until < until)
			until = sp[i].until;
	return until;
}

/* Counts the free spots of lot for [s, e) at now into *free_spots (of
 * *total); *until: the first instant at which the clock alone could
 * change the count. */
static enum dbrc
window_free(struct pool *p, int64_t lot, int64_t s, int64_t e,
    int64_t now, int *free_spots, int *total, int64_t *until)
{
	struct spot_holds *sp;
	struct lot l;
	enum dbrc rc;
	size_t n, i;
	int64_t guard = conf.overstay_guard_min * 60LL;

	if ((rc = db_lot_holds(p, lot, s, e, 0, &l, &sp, &n)) != DB_OK)
		return rc;
	*free_spots = count_free(sp, n, s, e, now);
	*total = (int)n;
	*until = holds_until(sp, n);
	/* a car on a spot blocks the window while it starts within the
	 * guard: from s - guard + 1 on */
	for (i = 0; i < n; i++)
		if (sp[i].occupied && s >= now + guard && s - guard + 1 < *until)
			*until = s - guard + 1;
	return DB_OK;
}

enum dbrc
resv_window_free(struct pool *p, int64_t lot, int64_t s, int64_t e,
    int *free_spots, int *total)
{
	int64_t until;

	return window_free(p, lot, s, e, park_now(), free_spots, total,
	    &until);
}

/*
 * Keeps the answer in w under key for the clock range [from, until): in
 * the worker's memo (data version), and when ckey is set, in Redis (the
 * key of the lot's version, from window_cached()) as "FROM UNTIL\n" and
 * the text, expiring before until.  Only when nothing was committed since
 * the request's session check (else the answer may mix two snapshots:
 * the next request puts it).
 */
static void
window_keep(struct req *r, struct resp *w, const char *key,
    const char *ckey, int64_t from, int64_t until)
{
	uint64_t v = db_data_version();
	int64_t ttl = until - park_now() - 1;
	char *head, *all;
	size_t hl;

	if (v != r->snap || until <= from)
		return;
	memo_put_until(key, v, w->data.p, w->data.len, from, until);
	if (ckey == NULL || conf.cache_ttl_s <= 0 || ttl < 1)
		return;
	if (ttl > conf.cache_ttl_s)
		ttl = conf.cache_ttl_s;
	head = pool_printf(&r->pool, "%lld %lld\n", (long long)from,
	    (long long)until);
	hl = strlen(head);
	all = pool_alloc(&r->pool, hl + w->data.len);
	memcpy(all, head, hl);
	memcpy(all + hl, w->data.p, w->data.len);
	cache_set(ckey, all, hl + w->data.len, (int)ttl);
}

/*
 * Answers 200 with the text of key from the memo, or from Redis under the
 * lot's version when it holds now (then memoised too); *ckey: the Redis
 * key for window_keep() (NULL: none).  Returns 1 when it answered.
 */
/*
 * Returns the settings that shape an availability or slots answer (the
 * zone, the grid, the grace, the overstay guard, the longest hold), for
 * its Redis key: after a reload that changes one, or on a host with other
 * settings sharing the Redis, an answer worked out under others is never
 * read (the #16 review: after a reload to another TIMEZONE the old day
 * was served from Redis).  The memo needs none: a reload replaces the
 * workers, and their memos with them.
 */
static const char *
window_settings(struct req *r)
{
	return pool_printf(&r->pool, "%s:%d:%d:%d:%d:%d:%d", conf.timezone,
	    conf.resv_grid_min, conf.checkin_grace_min,
	    conf.overstay_guard_min, conf.resv_max_min,
	    conf.checkin_early_min, conf.walkin_hold_min);
}

static int
window_cached(struct req *r, struct resp *w, const char *message,
    const char *key, char **ckey)
{
	struct buf b = { 0 };
	struct jw jw;
	long long version, from, until;
	char line[64], *nl;
	size_t off;
	int64_t now;
	int hit = 0;

	*ckey = NULL;
	if (memo_answer(r, w, message, key))
		return 1;
	/* reservations and walk-ins, checked in, released, cancelled or
	 * marked no-shows move the lot's version on (sql/005, sql/013);
	 * the lot and its spots, the "lots" generation (cache_fetch) */
	if (db_lot_version(r->pid[0], &version) != DB_OK || version < 0 ||
	    cache_fetch(&r->pool, "lots", pool_printf(&r->pool, "%s:%lld:%s",
	    key, version, window_settings(r)), &b, ckey) != 0)
		goto out;
	if ((nl = memchr(b.p, '\n', b.len)) == NULL ||
	    (off = (size_t)(nl - b.p)) >= sizeof(line))
		goto out;
	memcpy(line, b.p, off);
	line[off] = '\0';
	if (sscanf(line, "%lld %lld", &from, &until) != 2 ||
	    (now = park_now()) < from || now >= until)
		goto out;
	resp_ok(w, message, &jw);
	jw_raw(&jw, NULL, nl + 1, b.len - off - 1);
	*ckey = NULL; /* it is there */
	window_keep(r, w, key, NULL, from, until);
	hit = 1;
out:
	buf_free(&b);
	return hit;
}

enum { AV_START, AV_END };

/*
 * GET /api/user/pkl/availability/{id}?start&end: how many spots of the
 * lot are free for the whole window.  Kept in the worker's memo for the
 * database's data version, and in Redis for the lot's version, for the
 * clock range in which the count holds.
 * Statuses: 200, 400, 401, 403, 404, 503.
 */
void
resv_availability(struct req *r, struct resp *w)
{
	struct jw jw;
	enum dbrc rc;
	int64_t s, e, now, until;
	int f, t;
	const char *key;
	char *ckey;

	if (resv_window(r, w, AV_START, AV_END, &s, &e) != 0)
		return;
	key = pool_printf(&r->pool, "av:%lld:%lld:%lld", (long long)r->pid[0],
	    (long long)s, (long long)e);
	if (window_cached(r, w, "Availability", key, &ckey))
		return;
	now = park_now();
	if ((rc = window_free(&r->pool, r->pid[0], s, e, now, &f, &t,
	    &until)) != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND",
			    "Parking lot not found");
		else
			db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Availability", &jw);
	jw_obj(&jw, NULL);
	jw_int(&jw, "lot_id", r->pid[0]);
	jw_time(&jw, "start", s);
	jw_time(&jw, "end", e);
	jw_int(&jw, "available_spots", f);
	jw_int(&jw, "total_spots", t);
	jw_obj_end(&jw);
	window_keep(r, w, key, ckey, now, until);
}

/* The local day of the "date" input as [*d0, *d1) in UTC (23 or 25 hours
 * on a change day); the opening period that starts that day in *h0, *h1
 * (the whole day without hours). */
static void
day_bounds(const char *date, const struct lot *l, int64_t *d0, int64_t *d1,
    int64_t *h0, int64_t *h1)
{
	int y, m, d;

	(void)time_parse_date(date, &y, &m, &d);
	*d0 = time_local(y, m, d, 0);
	*d1 = time_local(y, m, d + 1, 0);
	time_hours_of_day(l->hours_start, l->hours_end, y, m, d, h0, h1);
}

enum { SL_DATE };

/*
 * GET /api/user/pkl/slots/{id}?date: the free spots of each grid slot of
 * the day (site time zone) within the lot's opening hours.  Kept in the
 * worker's memo like the availability.
 * Statuses: 200, 400, 401, 403, 404, 503.
 */
void
resv_slots(struct req *r, struct resp *w)
{
	struct spot_holds *sp;
	struct lot l;
	struct jw jw;
	enum dbrc rc;
	size_t n, ns, i, j, k;
	int64_t d0, d1, h0, h1, a0, grid = conf.resv_grid_min * 60LL;
	int64_t now, until, guard = conf.overstay_guard_min * 60LL;
	long long *taken;
	unsigned char *mark;
	int occupied = 0;
	const char *key;
	char *ckey;

	key = pool_printf(&r->pool, "sl:%lld:%s", (long long)r->pid[0],
	    r->in[SL_DATE].s);
	if (window_cached(r, w, "Slots", key, &ckey))
		return;
	now = park_now();
	memset(&l, 0, sizeof(l));
	if ((rc = db_lot_get(&r->pool, r->pid[0], &l)) == DB_OK) {
		day_bounds(r->in[SL_DATE].s, &l, &d0, &d1, &h0, &h1);
		rc = db_lot_holds(&r->pool, r->pid[0], h0, h1, 0, &l, &sp,
		    &n);
	}
	if (rc != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND",
			    "Parking lot not found");
		else
			db_to_http(rc, w);
		return;
	}
	/* slots on the UTC grid: the first one starting at or after the
	 * opening.  Each spot marks the slots its holds (and a car on it,
	 * within the overstay guard) take, in one pass over its holds:
	 * spots x (slots + holds), not spots x slots x holds. */
	a0 = (h0 + grid - 1) / grid * grid;
	ns = a0 + grid <= h1 ? (size_t)((h1 - a0) / grid) : 0;
	taken = pool_alloc(&r->pool, (ns ? ns : 1) * sizeof(*taken));
	memset(taken, 0, (ns ? ns : 1) * sizeof(*taken));
	mark = pool_alloc(&r->pool, (ns ? ns : 1));
	for (i = 0; i < n; i++) {
		memset(mark, 0, ns ? ns : 1);
		for (k = 0; k < sp[i].n; k++) {
			for (j = sp[i].h[k].start <= a0 ? 0 :
			    (size_t)((sp[i].h[k].start - a0) / grid);
			    j < ns && a0 + (int64_t)j * grid < sp[i].h[k].end;
			    j++)
				mark[j] = 1;
		}
		occupied |= sp[i].occupied;
		for (j = 0; j < ns; j++) {
			if (sp[i].occupied && a0 + (int64_t)j * grid <
			    now + guard)
				mark[j] = 1;
			taken[j] += mark[j];
		}
	}
	/* the clock changes the answer when a reservation's grace ends, or
	 * when the next slot comes within the guard of a car on a spot */
	until = holds_until(sp, n);
	for (j = 0; occupied && j < ns; j++)
		if (a0 + (int64_t)j * grid >= now + guard) {
			if (a0 + (int64_t)j * grid - guard + 1 < until)
				until = a0 + (int64_t)j * grid - guard + 1;
			break;
		}
	resp_ok(w, "Slots", &jw);
	jw_arr(&jw, NULL);
	for (j = 0; j < ns; j++) {
		jw_obj(&jw, NULL);
		jw_time(&jw, "start", a0 + (int64_t)j * grid);
		jw_time(&jw, "end", a0 + (int64_t)(j + 1) * grid);
		jw_int(&jw, "available_spots", (long long)n - taken[j]);
		jw_obj_end(&jw);
	}
	jw_arr_end(&jw);
	window_keep(r, w, key, ckey, now, until);
}

enum { RV_START, RV_END, RV_VEHICLE };

/*
 * POST /api/user/pkl/reserve/{id}: reserves the best spot of the lot for
 * the window (parkd(8) says how it is chosen) at the lot's current price.
 * Statuses: 200, 400 (VALIDATION, OUTSIDE_OPERATING_HOURS), 401, 403, 404,
 * 409 (LOT_FULL, LOT_INACTIVE, RESERVATION_LIMIT, OVERLAPPING_RESERVATION,
 * CONFLICT), 503.
 */
void
resv_reserve(struct req *r, struct resp *w)
{
	const struct val *veh = &r->in[RV_VEHICLE];
	struct resv v;
	struct jw jw;
	enum resv_out how;
	enum dbrc rc;
	int64_t s, e;

	if (resv_window(r, w, RV_START, RV_END, &s, &e) != 0)
		return;
	rc = db_reserve(&r->pool, r->pid[0], r->who.user_id, veh->set ?
	    veh->s : NULL, s, e, &v, &how);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how != RESV_OK) {
		resv_refused(r, w, how);
		return;
	}
	metrics_inc(MX_RESV_MADE);
	resp_ok(w, "Spot reserved successfully", &jw);
	resv_json(&jw, NULL, &v);
}

enum { CI_ID };

/*
 * POST /api/user/pkl/checkin: checks in the caller's reservation, from
 * PARKD_CHECKIN_EARLY_MINUTES before its start to PARKD_CHECKIN_GRACE_
 * MINUTES after; when a car still occupies the spot it moves to the best
 * spot free for the rest of the window (the message says so).
 * Statuses: 200, 400, 401, 403, 404, 409 (SPOT_OCCUPIED,
 * RESERVATION_EXPIRED, CHECKIN_TOO_EARLY, CONFLICT), 503.
 */
void
resv_checkin(struct req *r, struct resp *w)
{
	struct resv v;
	struct jw jw;
	enum resv_out how;
	enum dbrc rc;
	const char *msg;
	int moved;

	rc = db_checkin(&r->pool, r->who.user_id, r->in[CI_ID].i, &v, &how,
	    &moved);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how != RESV_OK) {
		resv_refused(r, w, how);
		return;
	}
	metrics_inc(MX_RESV_CHECKED_IN);
	if (moved == CHECKIN_MOVED_CAR)
		msg = pool_printf(&r->pool, "Checked in: your spot was still "
		    "occupied, you park on spot %d", v.spot_number);
	else if (moved == CHECKIN_MOVED_HELD)
		msg = pool_printf(&r->pool, "Checked in early: your spot is "
		    "taken until your window starts, you park on spot %d",
		    v.spot_number);
	else
		msg = "Checked in successfully";
	resp_ok(w, msg, &jw);
	resv_json(&jw, NULL, &v);
}

/*
 * POST /api/user/pkl/cancel: cancels the caller's reservation before its
 * start, free of charge.
 * Statuses: 200, 400, 401, 403, 404, 409 (RESERVATION_STARTED, CONFLICT),
 * 503.
 */
void
resv_cancel(struct req *r, struct resp *w)
{
	struct resv v;
	struct jw jw;
	enum resv_out how;
	enum dbrc rc;

	rc = db_cancel(&r->pool, r->who.user_id, r->in[CI_ID].i, &v, &how);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how != RESV_OK) {
		resv_refused(r, w, how);
		return;
	}
	metrics_inc(MX_RESV_CANCELLED);
	resp_ok(w, "Reservation cancelled", &jw);
	resv_json(&jw, NULL, &v);
}

/*
 * GET /api/admin/pkl/{id}/timeline?date: every spot of the lot with the
 * reservations of that day (site time zone): who, when, status.
 * Statuses: 200, 400, 401, 403, 404, 503.
 */
void
resv_admin_timeline(struct req *r, struct resp *w)
{
	struct spot_holds *sp;
	struct day_item *it;
	struct lot l;
	struct jw jw;
	enum dbrc rc;
	size_t n, ni, i, k;
	int64_t d0, d1, h0, h1;

	memset(&l, 0, sizeof(l));
	if ((rc = db_lot_get(&r->pool, r->pid[0], &l)) == DB_OK) {
		day_bounds(r->in[SL_DATE].s, &l, &d0, &d1, &h0, &h1);
		rc = db_lot_holds(&r->pool, r->pid[0], d0, d0, 0, &l, &sp,
		    &n);
	}
	if (rc == DB_OK)
		rc = db_lot_day(&r->pool, r->pid[0], d0, d1, &it, &ni);
	if (rc != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND",
			    "Parking lot not found");
		else
			db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Timeline", &jw);
	jw_obj(&jw, NULL);
	jw_int(&jw, "lot_id", r->pid[0]);
	jw_str(&jw, "date", r->in[SL_DATE].s);
	jw_arr(&jw, "spots");
	for (i = 0; i < n; i++) {
		jw_obj(&jw, NULL);
		jw_int(&jw, "id", sp[i].id);
		jw_int(&jw, "spot_number", sp[i].number);
		jw_arr(&jw, "intervals");
		for (k = 0; k < ni; k++) {
			if (it[k].spot_id != sp[i].id)
				continue;
			jw_obj(&jw, NULL);
			jw_int(&jw, "reservation_id", it[k].resv_id);
			jw_int(&jw, "user_id", it[k].user_id);
			jw_str(&jw, "username", it[k].username);
			jw_str(&jw, "status", it[k].status);
			jw_time(&jw, "start", it[k].start);
			jw_time(&jw, "end", it[k].end);
			jw_obj_end(&jw);
		}
		jw_arr_end(&jw);
		jw_obj_end(&jw);
	}
	jw_arr_end(&jw);
	jw_obj_end(&jw);
}
