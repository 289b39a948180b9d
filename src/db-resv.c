/*
 * db-resv.c: the data layer of advance reservations (api-contract.md
 * section 4, sql/013): reserve a window, check in, cancel, the holds of a
 * lot's spots (availability, day slots, the admin's timeline), the
 * no-shows and reminders of "parkctl tick", and the upcoming reservations
 * of a lot that shrinks, goes or closes.
 *
 * The invariant: the held intervals of the rows on one spot never
 * overlap.  Every write that gives a spot a hold checks it inside its one
 * BEGIN IMMEDIATE (so no other writer can come between the check and the
 * write), and the schema's triggers refuse an overlapping row again
 * (reservations_hold_*: a constraint, DB_CONFLICT, 409).  Rows past their
 * grace are marked no-show by each write on its way (one seek of
 * reservations_reserved_lot), so a write never meets a stale hold; reads
 * skip such rows instead.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "db-int.h"

#define MIN 60LL

/* The longest a stored hold can be: a checked-in reservation's window plus
 * its early check-in, or a walk-in's hold.  Reads bound their ranges by
 * it. */
static int64_t
hold_max(void)
{
	int64_t r = (conf.resv_max_min + conf.checkin_early_min) * MIN;
	int64_t w = conf.walkin_hold_min * MIN;

	return r > w ? r : w;
}

enum dbrc
db_resv_expire_lot(int64_t lot, int64_t now)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_RESV_STALE_LOT)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	if ((rc = db_row(st)) == DB_NOTFOUND)
		return DB_OK;
	if (rc != DB_OK)
		return rc;
	db_done(st);
	if ((st = db_stmt(STMT_RESV_EXPIRE_LOT)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	db_bind_int(st, 4, conf.no_show_charge_min);
	/* the no-shows are counted by the database (lots.no_shows_total) */
	return db_run(st);
}

enum dbrc
db_resv_expire_all(int64_t now, long long *marked)
{
	struct dbstmt *st;
	enum dbrc rc;

	*marked = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_RESV_EXPIRE_ALL)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	db_bind_int(st, 4, conf.no_show_charge_min);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	*marked = db_changes();
	return db_commit();
fail:
	db_rollback();
	return rc;
}

/* The best spot of lot for [s, e) (STMT_RESV_BEST_SPOT), leaving out
 * spot "but"; DB_NOTFOUND when none. */
static enum dbrc
best_spot(int64_t lot, int64_t s, int64_t e, int not_occupied, int64_t but,
    int64_t *spot, int *number)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_RESV_BEST_SPOT)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, s);
	db_bind_int(st, 3, e);
	db_bind_int(st, 4, not_occupied);
	db_bind_int(st, 5, but);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	*spot = db_col_int(st, 0);
	*number = db_col_int(st, 1);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_reserve(struct pool *p, int64_t lot, int64_t user, const char *vehicle,
    int64_t s, int64_t e, struct resv *v, enum resv_out *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();
	const char *hs, *he;
	int active;

	*out = RESV_NO_LOT;
	memset(v, 0, sizeof(*v));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_RESV_LOT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, user);
	if ((rc = db_row(st)) == DB_NOTFOUND)
		goto none;
	if (rc != DB_OK)
		goto fail;
	active = db_col_int(st, 0);
	v->hourly_cents = db_col_int(st, 1);
	v->lot_name = db_col_text(p, st, 2);
	hs = db_col_text(p, st, 3);
	he = db_col_text(p, st, 4);
	v->username = db_col_text(p, st, 5);
	db_done(st);
	if (!active) {
		*out = RESV_INACTIVE;
		goto none;
	}
	if (!time_in_hours(hs, he, s, e)) {
		*out = RESV_HOURS;
		goto none;
	}
	if ((rc = db_resv_expire_lot(lot, now)) != DB_OK)
		goto fail;
	/* the user's upcoming ones in every lot: those of other lots past
	 * their grace are no-shows already, although not marked yet */
	if ((st = db_stmt(STMT_RESV_COUNT_UPCOMING)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	active = db_col_int(st, 0);
	db_done(st);
	if (active >= conf.resv_limit) {
		*out = RESV_LIMIT;
		goto none;
	}
	if ((st = db_stmt(STMT_RESV_USER_OVERLAP)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, s);
	db_bind_int(st, 3, e);
	db_bind_text(st, 4, vehicle);
	db_bind_int(st, 5, now - conf.checkin_grace_min * MIN);
	if ((rc = db_row(st)) == DB_OK) {
		db_done(st);
		*out = RESV_OVERLAP;
		goto none;
	}
	if (rc != DB_NOTFOUND)
		goto fail;
	/* a car parked now may overstay: no window starting soon gets its
	 * spot */
	if ((rc = best_spot(lot, s, e, s < now + conf.overstay_guard_min * MIN,
	    0, &v->spot_id,
	    &v->spot_number)) == DB_NOTFOUND) {
		*out = RESV_FULL;
		goto none;
	}
	if (rc != DB_OK)
		goto fail;
	if ((st = db_stmt(STMT_RESV_RESERVE_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, v->spot_id);
	db_bind_int(st, 2, lot);
	db_bind_int(st, 3, user);
	db_bind_text(st, 4, vehicle);
	db_bind_int(st, 5, s);
	db_bind_int(st, 6, e);
	db_bind_int(st, 7, v->hourly_cents);
	db_bind_int(st, 8, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	v->id = db_last_id();
	v->lot_id = lot;
	v->user_id = user;
	v->vehicle = vehicle != NULL ? pool_strdup(p, vehicle) : NULL;
	v->parking_ts = v->start_time = s;
	v->end_time = e;
	v->created_at = v->updated_at = now;
	v->status = "reserved";
	*out = RESV_OK;
	return db_commit(); /* the triggers moved the lot's version on */
none:
	db_rollback();
	return DB_OK;
fail:
	db_rollback();
	return rc;
}

/* Reads the caller's reservation id into v (and whether its spot is
 * occupied now); *out RESV_NOT_FOUND when it is not the caller's. */
static enum dbrc
owned(struct pool *p, int64_t user, int64_t id, struct resv *v,
    int *occupied, enum resv_out *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	const char *t;

	if ((st = db_stmt(STMT_RESV_OWNED)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, user);
	if ((rc = db_row(st)) == DB_NOTFOUND) {
		*out = RESV_NOT_FOUND;
		return DB_OK;
	}
	if (rc != DB_OK)
		return rc;
	db_resv_row(p, st, v);
	t = db_col_str(st, 21);
	*occupied = t != NULL && t[0] == 'O';
	db_done(st);
	*out = RESV_OK;
	return DB_OK;
}

enum dbrc
db_checkin(struct pool *p, int64_t user, int64_t id, struct resv *v,
    enum resv_out *out, int *moved)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now(), from, spot;
	int occupied, number, can;

	*moved = 0;
	memset(v, 0, sizeof(*v));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((rc = owned(p, user, id, v, &occupied, out)) != DB_OK)
		goto fail;
	if (*out != RESV_OK)
		goto none;
	if (strcmp(v->status, "reserved") != 0) {
		*out = strcmp(v->status, "no_show") == 0 ? RESV_EXPIRED :
		    RESV_STATE;
		goto none;
	}
	if (now < v->start_time - conf.checkin_early_min * MIN) {
		*out = RESV_TOO_EARLY;
		goto none;
	}
	if (now >= v->start_time + conf.checkin_grace_min * MIN) {
		/* a no-show: marked now, and the answer says so */
		if ((rc = db_resv_expire_lot(v->lot_id, now)) != DB_OK)
			goto fail;
		*out = RESV_EXPIRED;
		return db_commit();
	}
	from = now < v->start_time ? now : v->start_time;
	/* no-shows of the lot hold nothing from here on */
	if ((rc = db_resv_expire_lot(v->lot_id, now)) != DB_OK)
		goto fail;
	/* The reserved spot, if no car is on it and nothing else holds it
	 * from now (an early arrival) ... */
	can = 0;
	if (!occupied) {
		if ((st = db_stmt(STMT_RESV_SPOT_CAN_HOLD)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, v->spot_id);
		db_bind_int(st, 2, from);
		db_bind_int(st, 3, v->end_time);
		db_bind_int(st, 4, v->id);
		if ((rc = db_row(st)) != DB_OK)
			goto fail;
		can = db_col_int(st, 0);
		db_done(st);
	}
	spot = v->spot_id;
	if (!can) {
		/* ... else the best spot free for the rest of the window and
		 * not occupied now (an overstaying car holds the spot) */
		rc = best_spot(v->lot_id, from, v->end_time, 1, v->spot_id,
		    &spot, &number);
		if (rc == DB_NOTFOUND) {
			*out = RESV_OCCUPIED;
			goto none;
		}
		if (rc != DB_OK)
			goto fail;
		*moved = occupied ? CHECKIN_MOVED_CAR : CHECKIN_MOVED_HELD;
		v->spot_id = spot;
		v->spot_number = number;
	}
	if ((st = db_stmt(STMT_RESV_CHECKIN)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, v->id);
	db_bind_int(st, 2, spot);
	db_bind_int(st, 3, now);
	db_bind_int(st, 4, from);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	v->status = "active";
	v->parking_ts = v->updated_at = now;
	*out = RESV_OK;
	return db_commit();
none:
	db_rollback();
	return DB_OK;
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_cancel(struct pool *p, int64_t user, int64_t id, struct resv *v,
    enum resv_out *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();
	int occupied;

	memset(v, 0, sizeof(*v));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((rc = owned(p, user, id, v, &occupied, out)) != DB_OK)
		goto fail;
	if (*out != RESV_OK)
		goto none;
	if (strcmp(v->status, "reserved") != 0) {
		*out = RESV_STATE;
		goto none;
	}
	if (now >= v->start_time) {
		*out = RESV_STARTED;
		goto none;
	}
	if ((st = db_stmt(STMT_RESV_CANCEL)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, v->id);
	db_bind_int(st, 2, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	v->status = "cancelled";
	v->leaving_ts = v->parking_ts;
	v->has_cost = 1;
	v->cost_cents = 0;
	v->updated_at = now;
	return db_commit();
none:
	db_rollback();
	return DB_OK;
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_lot_holds(struct pool *p, int64_t lot, int64_t from, int64_t to,
    int names, struct lot *l, struct spot_holds **out, size_t *n)
{
	struct dbstmt *st;
	enum dbrc rc;
	struct spot_holds *sp = NULL;
	struct hold *h;
	size_t cap;
	int64_t sid, until;
	const char *t;

	*n = 0;
	*out = NULL;
	if ((rc = db_begin_read()) != DB_OK)
		return rc;
	if ((rc = db_lot_get(p, lot, l)) != DB_OK)
		goto out;
	cap = (size_t)l->number_of_spots + 1;
	*out = pool_alloc(p, cap * sizeof(**out));
	if ((st = db_stmt(names ? STMT_RESV_HOLDS : STMT_RESV_HOLDS_BARE)) ==
	    NULL) {
		rc = db_lasterr();
		goto out;
	}
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	db_bind_int(st, 4, park_now());
	db_bind_int(st, 5, conf.checkin_grace_min * MIN);
	db_bind_int(st, 6, hold_max());
	while (db_next(st, &rc)) {
		sid = db_col_int(st, 0);
		if (sp == NULL || sp->id != sid) {
			if (*n == cap)
				continue; /* more than the lot's spots */
			sp = &(*out)[(*n)++];
			memset(sp, 0, sizeof(*sp));
			sp->id = sid;
			sp->number = db_col_int(st, 1);
			sp->occupied = db_col_str(st, 2) != NULL &&
			    db_col_str(st, 2)[0] == 'O';
			sp->cap = 0;
		}
		if (db_col_isnull(st, names ? 3 : 4))
			continue;
		/* a reservation not checked in stops holding at its start +
		 * grace (the statement leaves it out from then on) */
		if (names ? (t = db_col_str(st, 6)) != NULL &&
		    strcmp(t, "reserved") == 0 :
		    db_col_int(st, 5) != 0) {
			until = db_col_int(st, names ? 7 : 3) +
			    conf.checkin_grace_min * MIN;
			if (sp->until == 0 || until < sp->until)
				sp->until = until;
		}
		if (sp->n == sp->cap) {
			h = pool_alloc(p, (sp->cap * 2 + 4) * sizeof(*h));
			if (sp->n > 0)
				memcpy(h, sp->h, sp->n * sizeof(*h));
			sp->h = h;
			sp->cap = sp->cap * 2 + 4;
		}
		h = &sp->h[sp->n++];
		if (!names) {
			memset(h, 0, sizeof(*h));
			h->start = db_col_int(st, 3);
			h->end = db_col_int(st, 4);
			continue;
		}
		h->resv_id = db_col_int(st, 3);
		h->user_id = db_col_int(st, 4);
		h->username = db_col_text(p, st, 5);
		h->status = db_col_text(p, st, 6);
		h->start = db_col_int(st, 7);
		h->end = db_col_int(st, 8);
	}
out:
	db_end_read();
	return rc;
}

int
holds_free(const struct spot_holds *sp, int64_t s, int64_t e, int64_t now)
{
	size_t i;

	if (sp->occupied && s < now + conf.overstay_guard_min * MIN)
		return 0;
	for (i = 0; i < sp->n; i++)
		if (sp->h[i].start < e && sp->h[i].end > s)
			return 0;
	return 1;
}

enum dbrc
db_lot_upcoming(int64_t lot, int above, long long *count)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_RESV_LOT_UPCOMING)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, above);
	return db_row_ints(st, count, NULL, NULL);
}

enum dbrc
db_lot_cancel_upcoming(struct pool *p, int64_t lot, int above)
{
	struct dbstmt *st;
	enum dbrc rc;
	struct mail m;
	char a[32], b[32];
	struct {
		int64_t id, start, end;
		int number;
		const char *email, *lot;
	} *r = NULL;
	size_t n = 0, cap = 0, i;

	/* Read first, then write: a statement stepping over the rows it
	 * changes would see its own writes. */
	if ((st = db_stmt(STMT_RESV_LOT_UPCOMING_LIST)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, above);
	while (db_next(st, &rc)) {
		if (n == cap) {
			void *g = pool_alloc(p, (cap * 2 + 16) * sizeof(*r));

			if (n > 0)
				memcpy(g, r, n * sizeof(*r));
			r = g;
			cap = cap * 2 + 16;
		}
		r[n].id = db_col_int(st, 0);
		r[n].email = db_col_text(p, st, 1);
		r[n].lot = db_col_text(p, st, 2);
		r[n].number = db_col_int(st, 3);
		r[n].start = db_col_int(st, 4);
		r[n].end = db_col_int(st, 5);
		n++;
	}
	if (rc != DB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if ((st = db_stmt(STMT_RESV_CANCEL)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, r[i].id);
		db_bind_int(st, 2, park_now());
		if ((rc = db_run(st)) != DB_OK)
			return rc;
		/* The e-mail is queued in this transaction: it exists exactly
		 * when the cancellation does, and once (its key). */
		memset(&m, 0, sizeof(m));
		m.idem_key = pool_printf(p, "resv-cancel:%lld",
		    (long long)r[i].id);
		m.to = r[i].email;
		m.subject = pool_printf(p, "Your reservation at %s was "
		    "cancelled", r[i].lot);
		m.text = pool_printf(p, "Your reservation #%lld at %s "
		    "(spot %d, %s to %s UTC) was cancelled by the operator: "
		    "the lot or the spot is no longer available.\n"
		    "Nothing is charged.\n", (long long)r[i].id, r[i].lot,
		    r[i].number, time_iso(r[i].start, a), time_iso(r[i].end,
		    b));
		if ((rc = db_outbox_add(&m)) != DB_OK)
			return rc;
	}
	return DB_OK;
}

enum dbrc
db_resv_remind_due(struct pool *p, int64_t now, int64_t lead,
    struct resv_reminder **out, size_t *n)
{
	struct dbstmt *st;
	enum dbrc rc;
	size_t cap = 0;
	struct resv_reminder *g;

	*n = 0;
	*out = NULL;
	if ((st = db_stmt(STMT_RESV_REMIND_DUE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, lead);
	while (db_next(st, &rc)) {
		if (*n == cap) {
			g = pool_alloc(p, (cap * 2 + 16) * sizeof(*g));
			if (*n > 0)
				memcpy(g, *out, *n * sizeof(*g));
			*out = g;
			cap = cap * 2 + 16;
		}
		g = &(*out)[(*n)++];
		g->id = db_col_int(st, 0);
		g->email = db_col_text(p, st, 1);
		g->username = db_col_text(p, st, 2);
		g->lot_name = db_col_text(p, st, 3);
		g->spot_number = db_col_int(st, 4);
		g->start = db_col_int(st, 5);
		g->end = db_col_int(st, 6);
	}
	return rc;
}

enum dbrc
db_resv_list_upcoming(struct pool *p, int64_t user, int limit, int offset,
    struct resv **out, size_t *n, long long *total)
{
	struct dbstmt *st;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (limit > 0 ? (size_t)limit : 1) * sizeof(**out));
	if ((st = db_stmt(STMT_RESV_COUNT_UPCOMING)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	if ((rc = db_row_ints(st, total, NULL, NULL)) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_RESV_LIST_UPCOMING)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, conf.checkin_grace_min * MIN);
	db_bind_int(st, 4, limit);
	db_bind_int(st, 5, offset);
	while (db_next(st, &rc))
		if (*n < (size_t)limit)
			db_resv_row(p, st, &(*out)[(*n)++]);
	return rc;
}

enum dbrc
db_lot_day(struct pool *p, int64_t lot, int64_t from, int64_t to,
    struct day_item **out, size_t *n)
{
	struct dbstmt *st;
	enum dbrc rc;
	size_t cap = 0;
	struct day_item *g;
	int64_t a, b;

	*n = 0;
	*out = NULL;
	if ((st = db_stmt(STMT_RESV_LOT_DAY)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, lot);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	db_bind_int(st, 4, hold_max());
	db_bind_int(st, 5, park_now()); /* an active walk-in without hold */
	while (db_next(st, &rc)) {
		a = db_col_int(st, 5);
		b = db_col_int(st, 6);
		if (b <= from || a >= to)
			continue; /* a long walk-in that ended before */
		if (*n == cap) {
			g = pool_alloc(p, (cap * 2 + 16) * sizeof(*g));
			if (*n > 0)
				memcpy(g, *out, *n * sizeof(*g));
			*out = g;
			cap = cap * 2 + 16;
		}
		g = &(*out)[(*n)++];
		g->resv_id = db_col_int(st, 0);
		g->spot_id = db_col_int(st, 1);
		g->user_id = db_col_int(st, 2);
		g->username = db_col_text(p, st, 3);
		g->status = db_col_text(p, st, 4);
		g->start = a;
		g->end = b;
	}
	return rc;
}
