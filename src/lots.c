/*
 * lots.c: parking lots.  The admin creates, changes, resizes and deletes
 * them and sees each lot's spot grid; users list the lots they can book.
 *
 * The lists are read straight from SQLite: the counts live on the lot
 * rows, so a list is one index scan, which measured faster than a Redis
 * round trip (bench/RESULTS.md).  The spot grid joins every spot with its
 * reservation and user, so it is cached (cache_fetch).  Both are also
 * kept in the worker's memo (memo.c) while the database is unchanged.
 */
#include "config.h"

#include <string.h>

#include "park.h"

/* Writes the members of the lot object into the open object. */
static void
lot_members(struct jw *jw, const struct lot *l)
{
	jw_int(jw, "id", l->id);
	jw_str(jw, "prime_location_name", l->name);
	jw_str(jw, "address", l->address);
	jw_str(jw, "pin_code", l->pin_code);
	jw_int(jw, "number_of_spots", l->number_of_spots);
	jw_money(jw, "price", l->price_cents);
	jw_bool(jw, "is_active", l->is_active);
	jw_str(jw, "description", l->description);
	jw_str(jw, "operating_hours_start", l->hours_start);
	jw_str(jw, "operating_hours_end", l->hours_end);
	jw_int(jw, "available_spots", l->number_of_spots - l->occupied);
	jw_int(jw, "occupied_spots", l->occupied);
	jw_time(jw, "created_at", l->created_at);
	jw_time(jw, "updated_at", l->updated_at);
}

void
lot_json(struct jw *jw, const char *key, const struct lot *l)
{
	jw_obj(jw, key);
	lot_members(jw, l);
	jw_obj_end(jw);
}

/* The order of f_lot_create and f_lot_update in routes.c. */
enum { LOT_NAME, LOT_ADDRESS, LOT_PIN, LOT_SPOTS, LOT_PRICE, LOT_DESC,
    LOT_START, LOT_END, LOT_ACTIVE, LOT_CANCEL /* update only */ };

/*
 * Fills c from the input; checks the hours come both or neither.
 * Returns 0, or -1 after filling a 400.
 */
static int
lot_input(struct req *r, struct resp *w, struct lot_change *c)
{
	const struct val *in = r->in;
	int start = in[LOT_START].set || in[LOT_START].null;
	int end = in[LOT_END].set || in[LOT_END].null;

	memset(c, 0, sizeof(*c));
	c->name = in[LOT_NAME].set ? in[LOT_NAME].s : NULL;
	c->address = in[LOT_ADDRESS].set ? in[LOT_ADDRESS].s : NULL;
	c->pin_code = in[LOT_PIN].set ? in[LOT_PIN].s : NULL;
	c->spots = in[LOT_SPOTS].set ? (int)in[LOT_SPOTS].i : 0;
	c->price_cents = in[LOT_PRICE].set ? in[LOT_PRICE].i : -1;
	c->is_active = in[LOT_ACTIVE].set ? (int)in[LOT_ACTIVE].i : -1;
	c->set_description = in[LOT_DESC].set || in[LOT_DESC].null;
	c->description = in[LOT_DESC].set && in[LOT_DESC].len > 0 ?
	    in[LOT_DESC].s : NULL;
	if (start != end || in[LOT_START].set != in[LOT_END].set) {
		resp_error(w, 400, "VALIDATION", "Invalid input");
		resp_detail(w, in[LOT_START].set ? "operating_hours_end" :
		    "operating_hours_start",
		    "opening hours need both a start and an end");
		return -1;
	}
	c->set_hours = start;
	c->hours_start = in[LOT_START].set ? in[LOT_START].s : NULL;
	c->hours_end = in[LOT_END].set ? in[LOT_END].s : NULL;
	c->cancel_resv = r->route->nfields > LOT_CANCEL &&
	    in[LOT_CANCEL].set && in[LOT_CANCEL].i;
	return 0;
}

/* Answers with the lot object of id, or the failure. */
static void
lot_reply(struct req *r, struct resp *w, int64_t id, const char *message)
{
	struct lot l;
	struct jw jw;
	enum dbrc rc;

	if ((rc = db_lot_get(&r->pool, id, &l)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, message, &jw);
	lot_json(&jw, NULL, &l);
}

/*
 * POST /api/admin/pkl/create: a lot with spots 1..number_of_spots.
 * Statuses: 200, 400, 401, 403, 503.
 */
void
lots_admin_create(struct req *r, struct resp *w)
{
	struct lot_change c;
	enum dbrc rc;
	int64_t id;

	if (lot_input(r, w, &c) != 0)
		return;
	if ((rc = db_lot_create(&c, &id)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "admin created lot %lld with %d spots",
	    (long long)id, c.spots);
	lot_reply(r, w, id, "Parking lot created successfully");
}

/* 409 LOT_HAS_RESERVATIONS with their count. */
static void
has_reservations(struct req *r, struct resp *w, long long n)
{
	resp_error(w, 409, "LOT_HAS_RESERVATIONS", pool_printf(&r->pool,
	    "%lld upcoming reservation%s would be lost; send "
	    "cancel_reservations: true to cancel %s (each user is e-mailed)",
	    n, n == 1 ? "" : "s", n == 1 ? "it" : "them"));
	resp_detail(w, "cancel_reservations", pool_printf(&r->pool,
	    "%lld upcoming reservation%s", n, n == 1 ? "" : "s"));
}

/*
 * POST /api/admin/pkl/update/{id}: any subset of the create fields; a new
 * number_of_spots resizes (growing adds free spots, shrinking removes the
 * highest-numbered ones only when they are free).  Shrinking or making the
 * lot inactive with upcoming reservations in the way needs
 * cancel_reservations: true, which cancels them and e-mails each user.
 * Statuses: 200, 400, 401, 403, 404, 409 (LOT_NOT_EMPTY,
 * LOT_HAS_RESERVATIONS), 503.
 */
void
lots_admin_update(struct req *r, struct resp *w)
{
	struct lot_change c;
	enum dbrc rc;
	long long upcoming;
	int busy;

	if (lot_input(r, w, &c) != 0)
		return;
	rc = db_lot_update(&r->pool, r->pid[0], &c, &busy, &upcoming);
	if (rc == DB_NOTFOUND) {
		resp_error(w, 404, "NOT_FOUND", "Parking lot not found");
		return;
	}
	if (rc == DB_CONFLICT && busy > 0) {
		resp_error(w, 409, "LOT_NOT_EMPTY", pool_printf(&r->pool,
		    "Cannot remove spots: %d of them %s occupied", busy,
		    busy == 1 ? "is" : "are"));
		resp_detail(w, "number_of_spots", pool_printf(&r->pool,
		    "%d occupied spot%s above %d", busy, busy == 1 ? "" : "s",
		    c.spots));
		return;
	}
	if (rc == DB_CONFLICT && upcoming > 0) {
		has_reservations(r, w, upcoming);
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	lot_reply(r, w, r->pid[0], "Parking lot updated successfully");
}

/*
 * DELETE /api/admin/pkl/delete/{id}: removes a lot with no occupied spot;
 * one with history is kept as history (soft delete) and leaves every list.
 * Returns the lot as it was.  With upcoming reservations it needs
 * ?cancel_reservations=true (they are cancelled, each user e-mailed).
 * Statuses: 200, 400, 401, 403, 404, 409 (LOT_NOT_EMPTY,
 * LOT_HAS_RESERVATIONS), 503.
 */
void
lots_admin_delete(struct req *r, struct resp *w)
{
	struct lot l;
	struct jw jw;
	enum dbrc rc;
	long long upcoming;
	int soft, busy;

	if ((rc = db_lot_get(&r->pool, r->pid[0], &l)) != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND",
			    "Parking lot not found");
		else
			db_to_http(rc, w);
		return;
	}
	rc = db_lot_delete(&r->pool, r->pid[0], r->in[0].set &&
	    strcmp(r->in[0].s, "true") == 0, &soft, &busy, &upcoming);
	if (rc == DB_CONFLICT && upcoming > 0) {
		has_reservations(r, w, upcoming);
		return;
	}
	if (rc == DB_CONFLICT && busy > 0) {
		resp_error(w, 409, "LOT_NOT_EMPTY", pool_printf(&r->pool,
		    "Cannot delete a lot with %d occupied spot%s", busy,
		    busy == 1 ? "" : "s"));
		return;
	}
	if (rc == DB_NOTFOUND) {
		resp_error(w, 404, "NOT_FOUND", "Parking lot not found");
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "admin deleted lot %lld%s", (long long)l.id,
	    soft ? " (kept as history)" : "");
	resp_ok(w, "Parking lot deleted successfully", &jw);
	lot_json(&jw, NULL, &l);
}

/* The most spots a lot has (the schema's CHECK on number_of_spots). */
#define LOT_MAX_SPOTS 1000

/* Writes the lot object with its spot grid into jw.  Returns DB_OK. */
static enum dbrc
lot_detail(struct req *r, struct jw *jw, int64_t id)
{
	struct spot_cell *cells, *c;
	struct lot l;
	enum dbrc rc;
	size_t n, i;

	if ((rc = db_lot_grid(&r->pool, id, &l, &cells, &n, LOT_MAX_SPOTS)) !=
	    DB_OK)
		return rc;
	/* The counts shown are the grid's own, so that they always agree
	 * with the spots listed. */
	l.number_of_spots = (int)n;
	l.occupied = 0;
	for (i = 0; i < n; i++)
		l.occupied += cells[i].occupied;
	jw_obj(jw, NULL);
	lot_members(jw, &l);
	jw_arr(jw, "spots");
	for (i = 0; i < n; i++) {
		c = &cells[i];
		jw_obj(jw, NULL);
		jw_int(jw, "id", c->id);
		jw_int(jw, "spot_number", c->number);
		/* R: free now, but a reservation holds it within the
		 * walk-in hold (api-contract.md section 4) */
		jw_str(jw, "status", c->occupied ? "O" : c->reserved ? "R" :
		    "A");
		if (c->occupied && c->resv_id > 0) {
			jw_obj(jw, "reservation");
			jw_int(jw, "id", c->resv_id);
			jw_int(jw, "user_id", c->user_id);
			jw_str(jw, "username", c->username);
			jw_str(jw, "vehicle_number", c->vehicle);
			jw_time(jw, "parking_timestamp", c->since);
			jw_obj_end(jw);
		} else
			jw_null(jw, "reservation");
		jw_obj_end(jw);
	}
	jw_arr_end(jw);
	jw_obj_end(jw);
	return DB_OK;
}

/*
 * Answers with the memo of key when it was rendered from the snapshot the
 * front line saw (r->snap).  Returns 1 when it did, 0 when the caller must
 * render.
 */
int
memo_answer(struct req *r, struct resp *w, const char *message,
    const char *key)
{
	struct jw jw;
	const char *text;
	size_t len;

	if (memo_get(key, r->snap, &text, &len) != 0)
		return 0;
	resp_ok(w, message, &jw);
	jw_raw(&jw, NULL, text, len);
	return 1;
}

/*
 * GET /api/admin/pkl/{id}: the lot and every spot, with who is parked on
 * the occupied ones.  Served from this worker's memo or the Redis cache
 * when current, else built from one snapshot of the database.
 * Statuses: 200, 401, 403, 404, 503.
 */
void
lots_admin_get(struct req *r, struct resp *w)
{
	struct buf cached = { 0 };
	struct jw jw;
	enum dbrc rc;
	long long version;
	/* The R state moves with the clock, at grid boundaries (holds
	 * start and end on the grid): the slot is part of the key. */
	char *key = NULL, *mkey = pool_printf(&r->pool, "grid:%lld:%lld",
	    r->pid[0], (long long)(park_now() / (conf.resv_grid_min * 60)));

	if (memo_answer(r, w, "Parking lot", mkey))
		return;
	/* Redis keys carry the lot's version: bookings move it on. */
	if (db_lot_version(r->pid[0], &version) == DB_OK &&
	    cache_fetch(&r->pool, "lots", pool_printf(&r->pool, "%s:%lld",
	    mkey, version), &cached, &key) == 0) {
		resp_ok(w, "Parking lot", &jw);
		jw_raw(&jw, NULL, cached.p, cached.len);
		buf_free(&cached);
		/* The generation cache_fetch() read is current as of the
		 * snapshot it read it in. */
		memo_put(mkey, db_data_version(), w->data.p, w->data.len);
		return;
	}
	buf_free(&cached);
	resp_ok(w, "Parking lot", &jw);
	if ((rc = lot_detail(r, &jw, r->pid[0])) != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND",
			    "Parking lot not found");
		else
			db_to_http(rc, w);
		return;
	}
	memo_put(mkey, db_data_version(), w->data.p, w->data.len);
	cache_put(key, w->data.p, w->data.len);
}

/* Answers with the list of lots (active ones only for users). */
static void
lots_list(struct req *r, struct resp *w, int active_only)
{
	const char *key = active_only ? "list:active" : "list:all";
	struct lot *lots;
	struct jw jw;
	enum dbrc rc;
	size_t n, i;

	if (memo_answer(r, w, "Parking lots", key))
		return;
	if ((rc = db_lots_list(&r->pool, active_only, &lots, &n)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Parking lots", &jw);
	jw_arr(&jw, NULL);
	for (i = 0; i < n; i++)
		lot_json(&jw, NULL, &lots[i]);
	jw_arr_end(&jw);
	memo_put(key, db_data_version(), w->data.p, w->data.len);
}

/*
 * GET /api/admin/pkl/list: every lot, inactive ones included (deleted
 * ones not).  Statuses: 200, 401, 403, 503.
 */
void
lots_admin_list(struct req *r, struct resp *w)
{
	lots_list(r, w, 0);
}

enum { UL_START, UL_END };

/*
 * GET /api/user/pkl/list?start&end: the lots a user can book (active
 * ones); with a window, each with window_available_spots, the spots free
 * for all of it.
 * Statuses: 200, 400, 401, 403, 503.
 */
void
lots_user_list(struct req *r, struct resp *w)
{
	struct lot *lots;
	struct jw jw;
	enum dbrc rc;
	size_t n, i;
	int64_t s, e;
	int f, t;

	if (!r->in[UL_START].set && !r->in[UL_END].set) {
		lots_list(r, w, 1);
		return;
	}
	if (r->in[UL_START].set != r->in[UL_END].set) {
		resp_error(w, 400, "VALIDATION", "Invalid input");
		resp_detail(w, r->in[UL_START].set ? "end" : "start",
		    "a window needs both start and end");
		return;
	}
	if (resv_window(r, w, UL_START, UL_END, &s, &e) != 0)
		return;
	if ((rc = db_lots_list(&r->pool, 1, &lots, &n)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Parking lots", &jw);
	jw_arr(&jw, NULL);
	for (i = 0; i < n; i++) {
		if ((rc = resv_window_free(&r->pool, lots[i].id, s, e, &f,
		    &t)) == DB_NOTFOUND) {
			f = 0; /* deleted since the list was read */
		} else if (rc != DB_OK) {
			/* drops the half-written list: resp_error() resets
			 * the body and the status resp_ok() set */
			db_to_http(rc, w);
			return;
		}
		jw_obj(&jw, NULL);
		lot_members(&jw, &lots[i]);
		jw_int(&jw, "window_available_spots", f);
		jw_obj_end(&jw);
	}
	jw_arr_end(&jw);
}
