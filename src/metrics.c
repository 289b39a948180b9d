/*
 * metrics.c: what an operator's Prometheus scrapes from GET /metrics, in
 * the text exposition format (version 0.0.4).
 *
 * Any worker answers a scrape with the totals of all of them: the counters
 * live in one region of shared memory that the supervisor maps before its
 * first fork (metrics_init(), as pw.c's hash gate and db.c's writers'
 * queue), so a worker's counts stay when it dies and its replacement adds
 * to the same ones.  Every update is one relaxed atomic add: nothing is
 * locked, and a scrape reads each counter once (a scrape racing a request
 * may see the request counted in one metric and not yet in another, never
 * a counter going back).  Without the region (parkctl, the unit tests)
 * every update is a no-op.
 *
 * What is in flight (requests, workers) is a slot per worker naming its
 * pid, which the supervisor frees when it reaps the worker: a worker
 * killed in a request must not stay counted as busy.
 *
 * Labels are bounded: the route is the pattern of the route table, never
 * the path asked for ("unmatched" for 404, 405 and malformed requests);
 * the method one of eight; the status its class.  The database's gauges
 * (free spots per lot, active reservations, the queues, the jobs' last good
 * runs) are read at the scrape with a few statements of db-sys.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "park.h"

#define MX_ROUTES 64  /* the route table's routes, and "unmatched" */
#define MX_METHODS 8  /* GET HEAD POST PUT PATCH DELETE OPTIONS other */
#define MX_CLASSES 5  /* 1xx .. 5xx */
#define MX_SLOTS 128  /* two generations of 64 workers, as pw.c's gate */
#define MX_BUCKETS 14 /* the most buckets of a histogram, +Inf included */

/* A histogram: counts per bucket (not cumulative: summed when written)
 * and the sum of the observations in microseconds. */
struct mx_hist {
	_Atomic uint64_t b[MX_BUCKETS];
	_Atomic uint64_t sum_us;
};

struct mx_shared {
	_Atomic uint64_t c[MX__COUNT];
	_Atomic uint64_t req[MX_ROUTES][MX_METHODS][MX_CLASSES];
	struct mx_hist lat[MX_ROUTES];
	struct mx_hist tx;
	/* the latest moment until which some worker skips Redis */
	_Atomic int64_t breaker_until_ms;
	struct {
		_Atomic int pid;  /* the worker's, 0: free */
		_Atomic int busy; /* in a request */
	} slot[MX_SLOTS];
};

static struct mx_shared *mx;
static int my_slot = -1;

/* Request latency (seconds): from a memo hit to a hash's half second. */
static const char *const lat_le[] = { "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10" };
static const int64_t lat_us[] = { 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000 };
/* Write transactions (seconds): a booking holds the lock ~0.1 ms. */
static const char *const tx_le[] = { "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1" };
static const int64_t tx_us[] = { 100, 250, 500, 1000, 2500, 5000, 10000,
    25000, 50000, 100000, 250000, 500000, 1000000 };
#define NLAT (sizeof(lat_us) / sizeof(lat_us[0]))
#define NTX (sizeof(tx_us) / sizeof(tx_us[0]))

static const char *const method_names[MX_METHODS] = { "GET", "HEAD",
    "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other" };

/* The parkctl jobs that systemd's timers run (their last good run). */
static const char *const jobs[] = { "exports", "mail", "remind", "tick",
    "report", "cleanup" };
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

int
metrics_init(void)
{
	void *p;

	if (mx != NULL)
		return 0;
	if (nroutes + 1 > MX_ROUTES || NLAT + 1 > MX_BUCKETS ||
	    NTX + 1 > MX_BUCKETS || NJOBS > DB_METRICS_JOBS)
		fatal("metrics: tables larger than the shared region");
	/* Anonymous shared memory is zero-filled: every counter starts at
	 * 0, every slot free. */
	p = mmap(NULL, sizeof(*mx), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	mx = p;
	return 0;
}

int64_t
metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
metrics_add(enum mx_counter c, uint64_t n)
{
	if (mx != NULL && (unsigned)c < MX__COUNT)
		atomic_fetch_add_explicit(&mx->c[c], n, memory_order_relaxed);
}

/* Adds one observation of us microseconds to h (bounds in bound[n]). */
static void
hist_add(struct mx_hist *h, const int64_t *bound, size_t n, int64_t us)
{
	size_t i;

	if (us < 0)
		us = 0;
	for (i = 0; i < n && us > bound[i]; i++)
		;
	atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us,
	    memory_order_relaxed);
}

void
metrics_worker_start(void)
{
	int i, free_;

	metrics_inc(MX_WORKER_STARTS);
	if (mx == NULL)
		return;
	my_slot = -1;
	for (i = 0; i < MX_SLOTS; i++) {
		free_ = 0;
		if (atomic_compare_exchange_strong(&mx->slot[i].pid, &free_,
		    (int)park_pid())) {
			atomic_store(&mx->slot[i].busy, 0);
			my_slot = i;
			return;
		}
	}
}

void
metrics_worker_gone(pid_t pid, int crashed)
{
	int i, holder;

	metrics_inc(crashed ? MX_WORKER_CRASHES : MX_WORKER_EXITS);
	if (mx == NULL || pid <= 0)
		return;
	for (i = 0; i < MX_SLOTS; i++) {
		if (atomic_load(&mx->slot[i].pid) != (int)pid)
			continue;
		/* busy first: a slot whose pid is set has its holder's
		 * state, or 0 */
		atomic_store(&mx->slot[i].busy, 0);
		holder = (int)pid;
		(void)atomic_compare_exchange_strong(&mx->slot[i].pid, &holder,
		    0);
	}
}

int64_t
metrics_begin(void)
{
	if (mx != NULL && my_slot >= 0)
		atomic_store_explicit(&mx->slot[my_slot].busy, 1,
		    memory_order_relaxed);
	return metrics_now_us();
}

/* The method's index in method_names[]. */
static int
method_index(enum method m)
{
	switch (m) {
	case M_GET: return 0;
	case M_HEAD: return 1;
	case M_POST: return 2;
	case M_PUT: return 3;
	case M_PATCH: return 4;
	case M_DELETE: return 5;
	case M_OPTIONS: return 6;
	default: return 7;
	}
}

void
metrics_end(const struct req *r, const struct resp *w, int64_t started_us)
{
	size_t route;
	int cls;

	if (mx == NULL)
		return;
	/* the route's row of the table; nroutes: none matched */
	route = r->route != NULL ? (size_t)(r->route - routes) : nroutes;
	if (route > nroutes)
		route = nroutes;
	cls = w->status / 100 - 1;
	if (cls < 0 || cls >= MX_CLASSES)
		cls = MX_CLASSES - 1;
	atomic_fetch_add_explicit(&mx->req[route][method_index(r->method)][cls],
	    1, memory_order_relaxed);
	hist_add(&mx->lat[route], lat_us, NLAT,
	    metrics_now_us() - started_us);
	if (w->status >= 500)
		metrics_inc(MX_HTTP_5XX);
	if (my_slot >= 0)
		atomic_store_explicit(&mx->slot[my_slot].busy, 0,
		    memory_order_relaxed);
}

void
metrics_tx(int64_t us)
{
	if (mx != NULL)
		hist_add(&mx->tx, tx_us, NTX, us);
}

void
metrics_breaker(int64_t until_ms)
{
	int64_t cur;

	if (mx == NULL)
		return;
	cur = atomic_load(&mx->breaker_until_ms);
	while (cur < until_ms && !atomic_compare_exchange_weak(
	    &mx->breaker_until_ms, &cur, until_ms))
		;
}

/* ---- the scrape ---- */

/* Writes "# HELP name text\n# TYPE name type\n". */
static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_puts(b, "# HELP ");
	buf_puts(b, name);
	buf_putc(b, ' ');
	buf_puts(b, help);
	buf_puts(b, "\n# TYPE ");
	buf_puts(b, name);
	buf_putc(b, ' ');
	buf_puts(b, type);
	buf_putc(b, '\n');
}

/* Writes a signed integer. */
static void
put_int(struct buf *b, long long v)
{
	if (v < 0) {
		buf_putc(b, '-');
		buf_uint(b, (unsigned long long)-(v + 1) + 1);
	} else
		buf_uint(b, (unsigned long long)v);
}

/* Writes microseconds as seconds, e.g. 0.001250. */
static void
put_secs(struct buf *b, uint64_t us)
{
	char frac[7];
	uint64_t f = us % 1000000;
	int i;

	buf_uint(b, us / 1000000);
	for (i = 5; i >= 0; i--) {
		frac[i] = (char)('0' + f % 10);
		f /= 10;
	}
	frac[6] = '\0';
	buf_putc(b, '.');
	buf_puts(b, frac);
}

/* Writes "name value\n" of a sample without labels. */
static void
sample(struct buf *b, const char *name, long long v)
{
	buf_puts(b, name);
	buf_putc(b, ' ');
	put_int(b, v);
	buf_putc(b, '\n');
}

/* Writes name{label="value"} v; value holds no " \ or newline (ours). */
static void
sample1(struct buf *b, const char *name, const char *label,
    const char *value, long long v)
{
	buf_puts(b, name);
	buf_putc(b, '{');
	buf_puts(b, label);
	buf_puts(b, "=\"");
	buf_puts(b, value);
	buf_puts(b, "\"} ");
	put_int(b, v);
	buf_putc(b, '\n');
}

/* A counter with one sample. */
static void
counter(struct buf *b, const char *name, const char *help, enum mx_counter c)
{
	head(b, name, "counter", help);
	sample(b, name, (long long)atomic_load_explicit(&mx->c[c],
	    memory_order_relaxed));
}

static uint64_t
cval(enum mx_counter c)
{
	return atomic_load_explicit(&mx->c[c], memory_order_relaxed);
}

/* Writes one histogram's lines; labels: "" or 'route="..."'. */
static void
hist_put(struct buf *b, const char *name, const char *labels,
    struct mx_hist *h, const char *const *le, size_t n, uint64_t count,
    const uint64_t *bk)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cum += bk[i];
		buf_puts(b, name);
		buf_puts(b, "_bucket{");
		if (*labels != '\0') {
			buf_puts(b, labels);
			buf_putc(b, ',');
		}
		buf_puts(b, "le=\"");
		buf_puts(b, i < n ? le[i] : "+Inf");
		buf_puts(b, "\"} ");
		/* the +Inf bucket is the count: both from one reading */
		buf_uint(b, i < n ? cum : count);
		buf_putc(b, '\n');
	}
	buf_puts(b, name);
	buf_puts(b, "_sum");
	if (*labels != '\0') {
		buf_putc(b, '{');
		buf_puts(b, labels);
		buf_putc(b, '}');
	}
	buf_putc(b, ' ');
	put_secs(b, atomic_load_explicit(&h->sum_us, memory_order_relaxed));
	buf_putc(b, '\n');
	buf_puts(b, name);
	buf_puts(b, "_count");
	if (*labels != '\0') {
		buf_putc(b, '{');
		buf_puts(b, labels);
		buf_putc(b, '}');
	}
	buf_putc(b, ' ');
	buf_uint(b, count);
	buf_putc(b, '\n');
}

/* Reads h's buckets once into bk[]; returns their total. */
static uint64_t
hist_read(struct mx_hist *h, size_t n, uint64_t *bk)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i <= n; i++)
		total += bk[i] = atomic_load_explicit(&h->b[i],
		    memory_order_relaxed);
	return total;
}

/* The route label of row i (nroutes: "unmatched"). */
static const char *
route_label(size_t i)
{
	return i < nroutes ? routes[i].pattern : "unmatched";
}

/* The HTTP side: requests, latency, refusals. */
static void
put_http(struct buf *b, struct pool *p)
{
	static const char *const cls[MX_CLASSES] = { "1xx", "2xx", "3xx",
	    "4xx", "5xx" };
	uint64_t v, bk[MX_BUCKETS], count;
	size_t i, m, c;
	int inflight = 0, workers = 0;

	head(b, "parkd_http_requests_total", "counter",
	    "Requests answered, by route pattern, method and status class.");
	for (i = 0; i <= nroutes; i++)
		for (m = 0; m < MX_METHODS; m++)
			for (c = 0; c < MX_CLASSES; c++) {
				v = atomic_load_explicit(&mx->req[i][m][c],
				    memory_order_relaxed);
				if (v == 0)
					continue;
				buf_puts(b, "parkd_http_requests_total{route=\"");
				buf_puts(b, route_label(i));
				buf_puts(b, "\",method=\"");
				buf_puts(b, method_names[m]);
				buf_puts(b, "\",status=\"");
				buf_puts(b, cls[c]);
				buf_puts(b, "\"} ");
				buf_uint(b, v);
				buf_putc(b, '\n');
			}
	head(b, "parkd_http_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its answer written, by route "
	    "pattern (routes not yet asked for are left out).");
	for (i = 0; i <= nroutes; i++) {
		if ((count = hist_read(&mx->lat[i], NLAT, bk)) == 0)
			continue;
		hist_put(b, "parkd_http_request_duration_seconds",
		    pool_printf(p, "route=\"%s\"", route_label(i)),
		    &mx->lat[i], lat_le, NLAT, count, bk);
	}
	counter(b, "parkd_http_server_errors_total",
	    "Responses with a 5xx status.", MX_HTTP_5XX);
	head(b, "parkd_http_bodies_refused_total", "counter",
	    "Request bodies refused: too large (413), not JSON (415), "
	    "invalid (400).");
	sample1(b, "parkd_http_bodies_refused_total", "reason", "too_large",
	    (long long)cval(MX_BODY_TOO_LARGE));
	sample1(b, "parkd_http_bodies_refused_total", "reason", "media_type",
	    (long long)cval(MX_BODY_MEDIA_TYPE));
	sample1(b, "parkd_http_bodies_refused_total", "reason", "invalid",
	    (long long)cval(MX_BODY_INVALID));

	for (i = 0; i < MX_SLOTS; i++) {
		if (atomic_load(&mx->slot[i].pid) == 0)
			continue;
		workers++;
		inflight += atomic_load(&mx->slot[i].busy) != 0;
	}
	head(b, "parkd_http_requests_in_flight", "gauge",
	    "Requests being answered now (this scrape included).");
	sample(b, "parkd_http_requests_in_flight", inflight);
	head(b, "parkd_workers", "gauge", "Worker processes running.");
	sample(b, "parkd_workers", workers);
	counter(b, "parkd_worker_starts_total", "Worker processes started.",
	    MX_WORKER_STARTS);
	head(b, "parkd_worker_exits_total", "counter",
	    "Worker processes that ended: exited (replaced after "
	    "PARKD_WORKER_MAX_REQUESTS, a reload, a stop) or crashed (a "
	    "signal or an error status).");
	sample1(b, "parkd_worker_exits_total", "how", "exited",
	    (long long)cval(MX_WORKER_EXITS));
	sample1(b, "parkd_worker_exits_total", "how", "crashed",
	    (long long)cval(MX_WORKER_CRASHES));
	head(b, "parkd_password_hashes_in_flight", "gauge",
	    "Password hashes running now (at most PARKD_HASH_CONCURRENCY).");
	sample(b, "parkd_password_hashes_in_flight", pw_gate_held());
	counter(b, "parkd_password_hashes_refused_total",
	    "Requests refused with 503 because every hash slot was taken.",
	    MX_HASH_REFUSED);
}

/* The database and the cache. */
static void
put_stores(struct buf *b, int db_up)
{
	uint64_t bk[MX_BUCKETS], count;

	head(b, "parkd_db_up", "gauge",
	    "1 when the database answered this scrape, by back end.");
	sample1(b, "parkd_db_up", "backend", db_backend(), db_up);
	head(b, "parkd_db_busy_waits_total", "counter",
	    "Waits for the write lock: the engine's (SQLite's busy handler; "
	    "on PostgreSQL not counted), or the workers' writers' queue.");
	sample1(b, "parkd_db_busy_waits_total", "lock", db_backend(),
	    (long long)cval(MX_DB_BUSY_WAITS));
	sample1(b, "parkd_db_busy_waits_total", "lock", "queue",
	    (long long)cval(MX_DB_QUEUE_WAITS));
	head(b, "parkd_db_busy_timeouts_total", "counter",
	    "Waits for the write lock that ran past PARKD_DB_BUSY_TIMEOUT_MS "
	    "(503).");
	sample1(b, "parkd_db_busy_timeouts_total", "lock", db_backend(),
	    (long long)cval(MX_DB_BUSY_TIMEOUTS));
	sample1(b, "parkd_db_busy_timeouts_total", "lock", "queue",
	    (long long)cval(MX_DB_QUEUE_TIMEOUTS));
	head(b, "parkd_db_transaction_duration_seconds", "histogram",
	    "How long write transactions held the write lock.");
	count = hist_read(&mx->tx, NTX, bk);
	hist_put(b, "parkd_db_transaction_duration_seconds", "", &mx->tx,
	    tx_le, NTX, count, bk);

	head(b, "parkd_cache_enabled", "gauge",
	    "1 when a Redis cache is configured (REDIS_CACHE_URL).");
	sample(b, "parkd_cache_enabled", conf.redis_cache_url != NULL &&
	    conf.redis_cache_url[0] != '\0');
	counter(b, "parkd_cache_hits_total", "Cache reads that found a "
	    "valid value.", MX_CACHE_HITS);
	counter(b, "parkd_cache_misses_total", "Cache reads that found none "
	    "(or one that failed its integrity check).", MX_CACHE_MISSES);
	counter(b, "parkd_cache_errors_total", "Redis commands or "
	    "connections that failed (each opens a worker's breaker).",
	    MX_CACHE_ERRORS);
	head(b, "parkd_cache_breaker_open", "gauge",
	    "1 while some worker skips Redis after a failure "
	    "(PARKD_REDIS_BREAKER_S).");
	sample(b, "parkd_cache_breaker_open",
	    park_ms() < atomic_load(&mx->breaker_until_ms));
}

/* The business and the jobs: counters, then what the database holds. */
static void
put_business(struct buf *b, const struct db_metrics *d, int db_up)
{
	char id[24];
	size_t i;
	long long active = 0, upcoming = 0;

	counter(b, "parkd_bookings_total", "Walk-in bookings made.",
	    MX_BOOKINGS);
	counter(b, "parkd_releases_total", "Reservations released (and paid).",
	    MX_RELEASES);
	/* no-shows and revenue are the database's totals (014: every
	 * process's, parkctl tick's included, across restarts): without
	 * the database they are left out, never shown as 0 */
	head(b, "parkd_reservations_total", "counter",
	    "Advance reservations by outcome: made, checked_in, cancelled "
	    "(by the user; these three counted by the workers), no_show "
	    "(marked by a worker or parkctl tick; the database's total).");
	sample1(b, "parkd_reservations_total", "outcome", "made",
	    (long long)cval(MX_RESV_MADE));
	sample1(b, "parkd_reservations_total", "outcome", "checked_in",
	    (long long)cval(MX_RESV_CHECKED_IN));
	sample1(b, "parkd_reservations_total", "outcome", "cancelled",
	    (long long)cval(MX_RESV_CANCELLED));
	if (!db_up)
		return;
	sample1(b, "parkd_reservations_total", "outcome", "no_show",
	    d->no_shows);
	head(b, "parkd_revenue_cents_total", "counter", "Money charged, in "
	    "cents: releases and no-shows (the database's total).");
	sample(b, "parkd_revenue_cents_total", d->revenue_cents);

	for (i = 0; i < d->nlots; i++) {
		active += d->lots[i].active;
		upcoming += d->lots[i].upcoming;
	}
	head(b, "parkd_reservations_open", "gauge",
	    "Reservations now: active (a car parked) and upcoming (reserved, "
	    "not yet checked in).");
	sample1(b, "parkd_reservations_open", "state", "active", active);
	sample1(b, "parkd_reservations_open", "state", "upcoming", upcoming);
	head(b, "parkd_lot_free_spots", "gauge",
	    "Spots of a lot not occupied now, by lot id.");
	for (i = 0; i < d->nlots; i++) {
		id[0] = '\0';
		snprintf(id, sizeof id, "%lld", (long long)d->lots[i].id);
		sample1(b, "parkd_lot_free_spots", "lot", id, d->lots[i].free);
	}

	head(b, "parkd_outbox_messages", "gauge",
	    "E-mails in the outbox by state (sent and failed ones stay until "
	    "parkctl cleanup).");
	sample1(b, "parkd_outbox_messages", "state", "queued",
	    d->outbox_queued);
	sample1(b, "parkd_outbox_messages", "state", "sending",
	    d->outbox_sending);
	sample1(b, "parkd_outbox_messages", "state", "sent",
	    d->outbox_sent);
	sample1(b, "parkd_outbox_messages", "state", "failed",
	    d->outbox_failed);
	head(b, "parkd_export_jobs", "gauge", "CSV export jobs by state.");
	sample1(b, "parkd_export_jobs", "state", "pending",
	    d->exports_pending);
	sample1(b, "parkd_export_jobs", "state", "progress",
	    d->exports_progress);
	sample1(b, "parkd_export_jobs", "state", "success",
	    d->exports_success);
	sample1(b, "parkd_export_jobs", "state", "failure",
	    d->exports_failure);
	/* parkctl_job, not job: Prometheus gives job to the scrape target
	 * (a sample's own job label would be renamed exported_job) */
	head(b, "parkd_job_last_success_timestamp_seconds", "gauge",
	    "When each parkctl job last finished well (Unix time; 0: never), "
	    "by parkctl_job.");
	for (i = 0; i < NJOBS; i++)
		sample1(b, "parkd_job_last_success_timestamp_seconds",
		    "parkctl_job", jobs[i], d->job_ok[i]);
}

/*
 * 1 when addr is in PARKD_METRICS_ALLOW: addresses and CIDR prefixes
 * (IPv4 or IPv6) separated by commas or spaces.  An IPv4-mapped IPv6
 * address (::ffff:127.0.0.1, what a dual-stack listener reports for an
 * IPv4 client) is its IPv4 address, and so is such an entry.
 */
/* 1 when the 16 bytes of an IPv6 address are ::ffff:a.b.c.d. */
static int
v4_mapped(const unsigned char *a)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof prefix) == 0;
}

int
metrics_allowed(const char *list, const char *addr)
{
	unsigned char want[16], have[16];
	char one[64];
	const char *p, *slash;
	size_t n, len, full;
	int fam, bits, af, max;

	if (addr == NULL || list == NULL)
		return 0;
	af = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, addr, have) != 1)
		return 0;
	if (af == AF_INET6 && v4_mapped(have)) {
		memmove(have, have + 12, 4);
		af = AF_INET;
	}
	for (p = list; *p != '\0'; p += n) {
		p += strspn(p, ", ");
		if ((n = strcspn(p, ", ")) == 0 || n >= sizeof one)
			continue;
		memcpy(one, p, n);
		one[n] = '\0';
		fam = strchr(one, ':') != NULL ? AF_INET6 : AF_INET;
		max = fam == AF_INET6 ? 128 : 32;
		bits = max;
		if ((slash = strchr(one, '/')) != NULL) {
			bits = atoi(slash + 1);
			one[slash - one] = '\0';
		}
		if (bits < 0 || bits > max || inet_pton(fam, one, want) != 1)
			continue;
		/* ::ffff:a.b.c.d/N: a.b.c.d/(N - 96) */
		if (fam == AF_INET6 && v4_mapped(want) && bits >= 96) {
			memmove(want, want + 12, 4);
			fam = AF_INET;
			max = 32;
			bits -= 96;
		}
		if (fam != af)
			continue;
		full = (size_t)bits / 8;
		if (memcmp(want, have, full) != 0)
			continue;
		len = (size_t)(max / 8);
		if (full < len && bits % 8 != 0 &&
		    ((want[full] ^ have[full]) &
		    (unsigned char)(0xff00 >> (bits % 8))) != 0)
			continue;
		return 1;
	}
	return 0;
}

/*
 * GET /metrics: every counter of every worker and the database's gauges,
 * in Prometheus's text format.  nginx lets only its allowed addresses
 * reach it; parkd checks REMOTE_ADDR against PARKD_METRICS_ALLOW too.
 * Statuses: 200 (also with the database down: parkd_db_up 0), 403 (an
 * address not allowed), 404 (PARKD_METRICS_ALLOW empty: no metrics), 503
 * (the supervisor could not map the shared counters).
 */
void
metrics_scrape(struct req *r, struct resp *w)
{
	struct db_metrics d;
	struct buf *b = &w->raw;
	int db_up;

	if (conf.metrics_allow == NULL || conf.metrics_allow[0] == '\0') {
		resp_error(w, 404, "NOT_FOUND", "Resource not found");
		return;
	}
	if (!metrics_allowed(conf.metrics_allow, r->remote_addr)) {
		resp_error(w, 403, "FORBIDDEN", "Metrics are not served to "
		    "this address");
		return;
	}
	if (mx == NULL) {
		resp_error(w, 503, "UNAVAILABLE", "No metrics in this process");
		return;
	}
	memset(&d, 0, sizeof d);
	db_up = db_is_open() && db_metrics_get(&r->pool, jobs, NJOBS,
	    &d) == DB_OK;
	buf_reset(b);
	put_http(b, &r->pool);
	put_stores(b, db_up);
	put_business(b, &d, db_up);
	w->status = 200;
	w->raw_type = "text/plain; version=0.0.4; charset=utf-8";
}
