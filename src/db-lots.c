/*
 * db-lots.c: the data layer of parking: lots, their spots, reservations,
 * dashboards, and the cache generations that tell cached reads whether
 * they are current.
 *
 * Every write that reads first is one BEGIN IMMEDIATE transaction (a
 * deferred one that reads then writes gets SQLITE_BUSY_SNAPSHOT without
 * waiting, reliability.md F5).  spots.status and lots.occupied are kept by
 * the schema's triggers from the reservation rows; nothing here writes
 * them.  Every write that changes what a cached read shows bumps the
 * "lots" generation in its own transaction.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* Runs a statement that needs only its one integer bound; DB_OK. */
static enum dbrc
run_id(enum stmt id, int64_t v)
{
	struct dbstmt *st;

	if ((st = db_stmt(id)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, v);
	return db_run(st);
}

/* ---- cache generations ---- */

enum dbrc
db_gen_get(const char *family, long long *gen)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_GEN_GET)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, family);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	*gen = db_col_int(st, 0);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_gen_bump(const char *family)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_GEN_BUMP)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, family);
	return db_run(st);
}

enum dbrc
db_lot_version(int64_t id, long long *version)
{
	struct dbstmt *st = db_stmt(id > 0 ? STMT_LOT_VERSION :
	    STMT_LOTS_VERSION);

	if (st != NULL && id > 0)
		db_bind_int(st, 1, id);
	return db_row_ints(st, version, NULL, NULL);
}

/* Commits after bumping the lots generation, or rolls back. */
static enum dbrc
commit_lots(void)
{
	enum dbrc rc;

	if ((rc = db_gen_bump("lots")) != DB_OK) {
		db_rollback();
		return rc;
	}
	return db_commit();
}

/* ---- lots ---- */

static void
lot_row(struct pool *p, struct dbstmt *st, struct lot *l)
{
	l->id = db_col_int(st, 0);
	l->name = db_col_text(p, st, 1);
	l->address = db_col_text(p, st, 2);
	l->pin_code = db_col_text(p, st, 3);
	l->price_cents = db_col_int(st, 4);
	l->number_of_spots = db_col_int(st, 5);
	l->occupied = db_col_int(st, 6);
	l->is_active = db_col_int(st, 7);
	l->description = db_col_text(p, st, 8);
	l->hours_start = db_col_text(p, st, 9);
	l->hours_end = db_col_text(p, st, 10);
	l->created_at = db_col_int(st, 11);
	l->updated_at = db_col_int(st, 12);
}

enum dbrc
db_lot_get(struct pool *p, int64_t id, struct lot *l)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_LOT_GET)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, id);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	lot_row(p, st, l);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_lots_list(struct pool *p, int active_only, struct lot **out, size_t *n)
{
	struct dbstmt *st;
	enum dbrc rc;
	size_t cap = 16;
	struct lot *grown;

	*n = 0;
	*out = pool_alloc(p, cap * sizeof(**out));
	if ((st = db_stmt(STMT_LOTS_LIST)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, active_only);
	while (db_next(st, &rc)) {
		if (*n == cap) {
			grown = pool_alloc(p, 2 * cap * sizeof(**out));
			memcpy(grown, *out, cap * sizeof(**out));
			*out = grown;
			cap *= 2;
		}
		lot_row(p, st, &(*out)[(*n)++]);
	}
	return rc;
}

/* Adds spots from..to (reviving removed ones first); DB_OK. */
static enum dbrc
spots_add(int64_t lot, int from, int to)
{
	struct dbstmt *st;
	enum dbrc rc;

	if (from > to)
		return DB_OK;
	if ((st = db_stmt(STMT_SPOTS_REVIVE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_SPOTS_ADD)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	return db_run(st);
}

enum dbrc
db_lot_create(const struct lot_change *c, int64_t *id)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();

	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOT_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, c->name);
	db_bind_text(st, 2, c->address);
	db_bind_text(st, 3, c->pin_code);
	db_bind_int(st, 4, c->price_cents);
	db_bind_int(st, 5, c->spots);
	db_bind_int(st, 6, c->is_active < 0 ? 1 : c->is_active);
	db_bind_text(st, 7, c->description);
	db_bind_text(st, 8, c->hours_start);
	db_bind_text(st, 9, c->hours_end);
	db_bind_int(st, 10, now);
	db_bind_int(st, 11, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	*id = db_last_id();
	if ((rc = spots_add(*id, 1, c->spots)) != DB_OK)
		goto fail;
	return commit_lots();
fail:
	db_rollback();
	return rc;
}

/* Resizes lot from the current number of spots n to m, inside the
 * caller's transaction.  DB_CONFLICT with *busy set when a spot that
 * would go is occupied. */
static enum dbrc
resize(int64_t lot, int n, int m, int *busy)
{
	struct dbstmt *st;
	enum dbrc rc;

	if (m > n)
		rc = spots_add(lot, n + 1, m);
	else {
		if ((st = db_stmt(STMT_SPOTS_OCCUPIED_ABOVE)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, lot);
		db_bind_int(st, 2, m);
		if ((rc = db_row(st)) != DB_OK)
			return rc;
		*busy = db_col_int(st, 0);
		db_done(st);
		if (*busy > 0)
			return DB_CONFLICT;
		/* Spots with history stay, marked removed, so old
		 * reservations keep their spot number. */
		if ((st = db_stmt(STMT_SPOTS_DELETE_ABOVE)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, lot);
		db_bind_int(st, 2, m);
		if ((rc = db_run(st)) != DB_OK)
			return rc;
		if ((st = db_stmt(STMT_SPOTS_REMOVE_ABOVE)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, lot);
		db_bind_int(st, 2, m);
		db_bind_int(st, 3, park_now());
		rc = db_run(st);
	}
	if (rc != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOT_RESIZE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, m);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, lot);
	return db_run(st);
}

/* The upcoming reservations of lot on spots above "above" (0: all): none,
 * or cancelled when cancel (DB_OK), else DB_CONFLICT with their count. */
static enum dbrc
upcoming_in_way(struct pool *p, int64_t lot, int above, int cancel,
    long long *upcoming)
{
	enum dbrc rc;

	if ((rc = db_resv_expire_lot(lot, park_now())) != DB_OK ||
	    (rc = db_lot_upcoming(lot, above, upcoming)) != DB_OK)
		return rc;
	if (*upcoming == 0)
		return DB_OK;
	if (!cancel)
		return DB_CONFLICT;
	*upcoming = 0;
	return db_lot_cancel_upcoming(p, lot, above);
}

enum dbrc
db_lot_update(struct pool *p, int64_t id, const struct lot_change *c,
    int *busy, long long *upcoming)
{
	struct dbstmt *st;
	enum dbrc rc;
	int n;

	*busy = 0;
	*upcoming = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOT_GET)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, id);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	n = db_col_int(st, 5);
	db_done(st);
	/* a lot made inactive takes no car: its upcoming reservations go;
	 * a shrink takes those on the spots that go */
	if ((c->is_active == 0 || (c->spots > 0 && c->spots < n)) &&
	    (rc = upcoming_in_way(p, id, c->is_active == 0 ? 0 : c->spots,
	    c->cancel_resv, upcoming)) != DB_OK)
		goto fail;

	if ((st = db_stmt(STMT_LOT_UPDATE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, c->name);
	db_bind_text(st, 2, c->address);
	db_bind_text(st, 3, c->pin_code);
	if (c->price_cents >= 0)
		db_bind_int(st, 4, c->price_cents);
	else
		db_bind_null(st, 4);
	if (c->is_active >= 0)
		db_bind_int(st, 5, c->is_active);
	else
		db_bind_null(st, 5);
	db_bind_int(st, 6, c->set_description);
	db_bind_text(st, 7, c->description);
	db_bind_int(st, 8, c->set_hours);
	db_bind_text(st, 9, c->hours_start);
	db_bind_text(st, 10, c->hours_end);
	db_bind_int(st, 11, park_now());
	db_bind_int(st, 12, id);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (c->spots > 0 && c->spots != n &&
	    (rc = resize(id, n, c->spots, busy)) != DB_OK)
		goto fail;
	return commit_lots();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_lot_delete(struct pool *p, int64_t id, int cancel_resv, int *soft,
    int *busy, long long *upcoming)
{
	struct dbstmt *st;
	enum dbrc rc;

	*soft = *busy = 0;
	*upcoming = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOT_GET)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, id);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	*busy = db_col_int(st, 6);
	db_done(st);
	if (*busy > 0) {
		rc = DB_CONFLICT;
		goto fail;
	}
	if ((rc = upcoming_in_way(p, id, 0, cancel_resv, upcoming)) != DB_OK)
		goto fail;
	if ((st = db_stmt(STMT_LOT_HAS_HISTORY)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, id);
	rc = db_row(st);
	if (rc == DB_OK) {
		db_done(st);
		*soft = 1;
	} else if (rc != DB_NOTFOUND)
		goto fail;
	if (*soft) {
		/* History keeps the lot and its spots: reservations,
		 * exports and reports still name them. */
		if ((st = db_stmt(STMT_LOT_SOFT_DELETE)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, park_now());
		db_bind_int(st, 2, id);
		rc = db_run(st);
	} else
		rc = run_id(STMT_LOT_DELETE, id);
	if (rc != DB_OK)
		goto fail;
	return commit_lots();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_lot_grid(struct pool *p, int64_t id, struct lot *l, struct spot_cell **out,
    size_t *n, size_t cap)
{
	struct dbstmt *st;
	enum dbrc rc;
	struct spot_cell *c;

	*n = 0;
	*out = pool_alloc(p, (cap ? cap : 1) * sizeof(**out));
	if ((rc = db_begin_read()) != DB_OK)
		return rc;
	if ((rc = db_lot_get(p, id, l)) != DB_OK)
		goto out;
	if ((st = db_stmt(STMT_SPOTS_GRID)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, park_now() + conf.walkin_hold_min * 60LL);
	while (db_next(st, &rc)) {
		if (*n == cap)
			continue; /* more than the schema allows */
		c = &(*out)[(*n)++];
		c->id = db_col_int(st, 0);
		c->number = db_col_int(st, 1);
		c->occupied = db_col_str(st, 2) != NULL &&
		    db_col_str(st, 2)[0] == 'O';
		c->resv_id = db_col_int(st, 3);
		c->user_id = db_col_int(st, 4);
		c->username = db_col_text(p, st, 5);
		c->vehicle = db_col_text(p, st, 6);
		c->since = db_col_int(st, 7);
		c->reserved = db_col_int(st, 8);
	}
out:
	db_end_read();
	return rc;
}

/* ---- reservations ---- */

void
db_resv_row(struct pool *p, struct dbstmt *st, struct resv *v)
{
	v->id = db_col_int(st, 0);
	v->spot_id = db_col_int(st, 1);
	v->spot_number = db_col_int(st, 2);
	v->lot_id = db_col_int(st, 3);
	v->lot_name = db_col_text(p, st, 4);
	v->user_id = db_col_int(st, 5);
	v->username = db_col_text(p, st, 6);
	v->vehicle = db_col_text(p, st, 7);
	v->parking_ts = db_col_int(st, 8);
	v->leaving_ts = db_col_int(st, 9);
	v->hourly_cents = db_col_int(st, 10);
	v->has_cost = !db_col_isnull(st, 11);
	v->cost_cents = db_col_int(st, 11);
	v->status = db_col_text(p, st, 12);
	v->remarks = db_col_text(p, st, 13);
	v->created_at = db_col_int(st, 14);
	v->updated_at = db_col_int(st, 15);
	v->vehicle_model = db_col_text(p, st, 16);
	v->vehicle_color = db_col_text(p, st, 17);
	v->expected_leaving_ts = db_col_int(st, 18);
	v->start_time = db_col_int(st, 19);
	v->end_time = db_col_int(st, 20);
}

enum dbrc
db_resv_get(struct pool *p, int64_t id, struct resv *v)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_RESV_GET)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, id);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	db_resv_row(p, st, v);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_book(struct pool *p, int64_t lot, int64_t user, const char *vehicle,
    struct resv *v, enum book *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();
	int active, held, none_reserved;

	*out = BOOK_NO_LOT;
	memset(v, 0, sizeof(*v));
	/* The check and the insert in one write transaction: two bookings
	 * can never pick the same spot (and the partial unique index on
	 * active reservations would refuse it anyway).  Everything else the
	 * answer shows is read on the way, so that the transaction, which
	 * every other writer waits for, runs no statement more. */
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOT_FOR_BOOKING)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, lot);
	if ((rc = db_row(st)) == DB_NOTFOUND)
		goto none;
	if (rc != DB_OK)
		goto fail;
	active = db_col_int(st, 0);
	v->hourly_cents = db_col_int(st, 1);
	v->lot_name = db_col_text(p, st, 2);
	/* read in this write transaction: no reservation of the lot can
	 * appear before the insert */
	none_reserved = db_col_int(st, 3) == 0;
	db_done(st);
	if (!active) {
		*out = BOOK_INACTIVE;
		goto none;
	}
	if ((st = db_stmt(STMT_USER_ACTIVE_COUNT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, user);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	held = db_col_int(st, 0);
	v->username = db_col_text(p, st, 1);
	db_done(st);
	if (held >= conf.max_active_bookings) {
		*out = BOOK_LIMIT;
		goto none;
	}
	/* Reservations of the lot past their grace are no-shows: their
	 * holds end before the search (one seek, empty most of the time;
	 * none without reservations not checked in). */
	if (!none_reserved && (rc = db_resv_expire_lot(lot, now)) != DB_OK)
		goto fail;
	if ((st = db_stmt(STMT_SPOT_FIRST_FREE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + conf.walkin_hold_min * 60LL);
	db_bind_int(st, 4, none_reserved);
	if ((rc = db_row(st)) == DB_NOTFOUND) {
		*out = BOOK_FULL;
		goto none;
	}
	if (rc != DB_OK)
		goto fail;
	v->spot_id = db_col_int(st, 0);
	v->spot_number = db_col_int(st, 1);
	db_done(st);
	if ((st = db_stmt(STMT_RESV_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, v->spot_id);
	db_bind_int(st, 2, lot);
	db_bind_int(st, 3, user);
	db_bind_text(st, 4, vehicle);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, v->hourly_cents);
	db_bind_int(st, 7, now + conf.walkin_hold_min * 60LL);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	/* The row as STMT_RESV_INSERT wrote it. */
	v->id = db_last_id();
	v->lot_id = lot;
	v->user_id = user;
	v->vehicle = vehicle != NULL ? pool_strdup(p, vehicle) : NULL;
	v->parking_ts = v->created_at = v->updated_at = now;
	v->status = "active";
	*out = BOOK_OK;
	/* No generation to bump: the triggers moved the lot's version on
	 * (005-lot-version.sql). */
	return db_commit();
none:
	db_rollback();
	return DB_OK;
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_release(struct pool *p, int64_t user, int64_t resv, struct resv *v,
    enum release *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	int active;

	*out = RELEASE_NONE;
	memset(v, 0, sizeof(*v));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(resv > 0 ? STMT_RESV_TO_RELEASE :
	    STMT_RESV_OLDEST_ACTIVE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	if (resv > 0) {
		db_bind_int(st, 1, resv);
		db_bind_int(st, 2, user);
	} else
		db_bind_int(st, 1, user);
	if ((rc = db_row(st)) == DB_NOTFOUND) {
		/* Someone else's reservation is "not found", never told
		 * apart from one that does not exist. */
		*out = resv > 0 ? RELEASE_NOT_FOUND : RELEASE_NONE;
		db_rollback();
		return DB_OK;
	}
	if (rc != DB_OK)
		goto fail;
	db_resv_row(p, st, v);
	db_done(st);
	active = v->status != NULL && strcmp(v->status, "active") == 0;
	if (!active) {
		db_rollback();
		return DB_OK;
	}
	if ((st = db_stmt(STMT_RESV_COMPLETE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, park_now());
	db_bind_int(st, 2, v->id);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if ((st = db_stmt(STMT_RESV_CLOSED)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, v->id);
	if ((rc = db_row(st)) != DB_OK) {
		if (rc == DB_NOTFOUND)
			rc = DB_ERROR; /* written a statement ago, in our lock */
		goto fail;
	}
	v->leaving_ts = db_col_int(st, 0);
	v->cost_cents = db_col_int(st, 1);
	v->has_cost = 1;
	v->updated_at = db_col_int(st, 2);
	v->status = "completed";
	db_done(st);
	*out = RELEASE_OK;
	return db_commit(); /* the triggers moved the lot's version on */
fail:
	db_rollback();
	return rc;
}

/* Reads every row of a reservation list into a pool array. */
static enum dbrc
resv_rows(struct pool *p, struct dbstmt *st, size_t cap, struct resv **out,
    size_t *n)
{
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (cap ? cap : 1) * sizeof(**out));
	while (db_next(st, &rc))
		if (*n < cap)
			db_resv_row(p, st, &(*out)[(*n)++]);
	return rc;
}

enum dbrc
db_resv_list_user(struct pool *p, int64_t user, const char *status,
    int limit, int offset, struct resv **out, size_t *n, long long *total)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_RESV_COUNT_USER)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_text(st, 2, status);
	if ((rc = db_row_ints(st, total, NULL, NULL)) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_RESV_LIST_USER)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_text(st, 2, status);
	db_bind_int(st, 3, limit);
	db_bind_int(st, 4, offset);
	return resv_rows(p, st, (size_t)limit, out, n);
}

/* Binds the five filters of the admin's list (0 or NULL: any). */
static void
bind_filter(struct dbstmt *st, const struct resv_filter *f)
{
	if (f->lot_id > 0)
		db_bind_int(st, 1, f->lot_id);
	else
		db_bind_null(st, 1);
	if (f->user_id > 0)
		db_bind_int(st, 2, f->user_id);
	else
		db_bind_null(st, 2);
	db_bind_text(st, 3, f->status);
	if (f->from > 0)
		db_bind_int(st, 4, f->from);
	else
		db_bind_null(st, 4);
	if (f->to > 0)
		db_bind_int(st, 5, f->to);
	else
		db_bind_null(st, 5);
}

enum dbrc
db_resv_list_admin(struct pool *p, const struct resv_filter *f, int limit,
    int offset, struct resv **out, size_t *n, long long *total)
{
	struct dbstmt *st;
	enum dbrc rc;

	/* The count: without a date range, from the counts kept on the
	 * user's row or the lots' (007); else a user's rows come from
	 * reservations_user, a lot's from reservations_lot_parking, the rest
	 * scan (db.c says why). */
	if (f->from <= 0 && f->to <= 0 && f->user_id > 0 && f->lot_id <= 0) {
		if ((st = db_stmt(STMT_RESV_COUNT_USER)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, f->user_id);
		db_bind_text(st, 2, f->status);
	} else if (f->from <= 0 && f->to <= 0 && f->user_id <= 0) {
		if ((st = db_stmt(STMT_RESV_COUNT_ADMIN_LOTS)) == NULL)
			return db_lasterr();
		if (f->lot_id > 0)
			db_bind_int(st, 1, f->lot_id);
		else
			db_bind_null(st, 1);
		db_bind_text(st, 3, f->status);
	} else {
		if ((st = db_stmt(f->user_id > 0 ? STMT_RESV_COUNT_ADMIN_USER :
		    f->lot_id > 0 ? STMT_RESV_COUNT_ADMIN_LOT :
		    STMT_RESV_COUNT_ADMIN)) == NULL)
			return db_lasterr();
		bind_filter(st, f);
	}
	if ((rc = db_row_ints(st, total, NULL, NULL)) != DB_OK)
		return rc;
	if ((st = db_stmt(f->user_id > 0 ? STMT_RESV_LIST_ADMIN_USER :
	    STMT_RESV_LIST_ADMIN)) == NULL)
		return db_lasterr();
	bind_filter(st, f);
	db_bind_int(st, 6, limit);
	db_bind_int(st, 7, offset);
	return resv_rows(p, st, (size_t)limit, out, n);
}

/* ---- dashboards ---- */

enum dbrc
db_summary_admin(struct pool *p, struct admin_summary *s)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now(), day = now - now % 86400, month;
	struct tm tm;
	time_t t = (time_t)now;
	long long d;

	memset(s, 0, sizeof(*s));
	gmtime_r(&t, &tm);
	month = day - (int64_t)(tm.tm_mday - 1) * 86400;
	s->today = day;
	if ((rc = db_begin_read()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_SUM_COUNTS)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	if ((rc = db_row(st)) != DB_OK)
		goto out;
	s->users = db_col_int(st, 0);
	s->users_active = db_col_int(st, 1);
	s->lots = db_col_int(st, 2);
	s->spots = db_col_int(st, 3);
	s->occupied = db_col_int(st, 4);
	s->upcoming = db_col_int(st, 5);
	db_done(st);
	if ((st = db_stmt(STMT_SUM_AHEAD)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, now - 30 * 86400);
	db_bind_int(st, 2, now);
	if ((rc = db_row_ints(st, &s->no_shows_30d, &s->checked_in_30d,
	    NULL)) != DB_OK)
		goto out;
	if ((st = db_stmt(STMT_SUM_REVENUE)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, day);
	if ((rc = db_row_ints(st, &s->revenue_today, NULL, NULL)) !=
	    DB_OK)
		goto out;
	if ((st = db_stmt(STMT_SUM_REVENUE)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, month);
	if ((rc = db_row_ints(st, &s->revenue_month, NULL, NULL)) !=
	    DB_OK)
		goto out;
	if ((st = db_stmt(STMT_SUM_PER_DAY)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, day - 29 * 86400);
	while (db_next(st, &rc)) {
		d = db_col_int(st, 0) - (day - 29 * 86400) / 86400;
		if (d >= 0 && d < 30)
			s->per_day[d] = db_col_int(st, 1);
	}
	if (rc != DB_OK)
		goto out;
	rc = db_lots_list(p, 0, &s->lot, &s->nlots);
out:
	db_end_read();
	return rc;
}

enum dbrc
db_summary_user(struct pool *p, int64_t user, struct user_summary *s)
{
	struct dbstmt *st;
	enum dbrc rc;

	memset(s, 0, sizeof(*s));
	if ((rc = db_begin_read()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_SUM_USER)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, park_now());
	if ((rc = db_row(st)) != DB_OK)
		goto out;
	s->bookings = db_col_int(st, 0);
	s->seconds = db_col_int(st, 1);
	s->spent_cents = db_col_int(st, 2);
	db_done(st);
	if ((st = db_stmt(STMT_SUM_USER_ACTIVE)) == NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, user);
	rc = resv_rows(p, st, (size_t)conf.max_active_bookings + 100,
	    &s->active, &s->nactive);
out:
	db_end_read();
	return rc;
}
