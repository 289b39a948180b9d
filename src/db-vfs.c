/*
 * db-vfs.c: the VFS parkd's connection opens its database with: SQLite's
 * own (the default, "unix"), except that writes to the WAL file are
 * gathered and reach the kernel in one pwrite() per commit.
 *
 * Why: SQLite writes each WAL frame with two system calls (its 24-byte
 * header, then the page), so a booking's ~13 frames cost ~26 pwrite()s,
 * inside the lock every other writer waits for (bench/RESULTS.md, fourth
 * session).  Nothing is lost by waiting with them until the commit:
 *
 *  - no other connection reads a frame before the wal-index header in
 *    shared memory says it is committed, and SQLite writes that header
 *    only after the commit frame is written (sqlite3WalFrames(): frames,
 *    then walIndexAppend(), then walIndexWriteHdr());
 *  - the commit frame is the one whose header carries a database size (its
 *    bytes 4-7, "nTruncate", are not 0): that header flushes everything
 *    gathered before it, together with itself, and the writes after it
 *    (the commit frame's page, a checksum rewrite) go straight to the
 *    kernel until the header of a frame that does not commit comes;
 *  - anything else done to the WAL file (a read of a frame this
 *    connection wrote, a sync, a truncate, its size, a file control, its
 *    close) flushes first, so the file always looks as written to SQLite;
 *  - a process that dies with frames gathered dies before its commit:
 *    the transaction was not committed and nobody was told it was, exactly
 *    as if it had died between two of SQLite's writes.
 *
 * A failed flush is reported by the call that flushed (the commit frame's
 * xWrite, or the read, sync, ... that came first) with the error of the
 * write underneath, and the gathered bytes are dropped: SQLite then rolls
 * the transaction back as for any failed write.  The database file and
 * everything else pass through untouched (the file objects are SQLite's
 * own: no extra call on their paths).
 *
 * db_vfs_name() registers the VFS (once, over whatever VFS is the default
 * at that moment: the tests' fault-injecting shim stays underneath).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "park.h"
#include "db-int.h"

/* Bytes gathered at most; a commit larger than this is written in parts,
 * which is still correct (it is published only after its last part).
 * SQLite's unix VFS writes at most 128 KiB - 1 bytes in one call (its
 * seekAndWriteFd() masks the length with 0x1ffff). */
#define WAL_BUF_MAX (64 * 1024)
/* The WAL frame header's size, and where its database size is. */
#define WAL_FRAME_HDR 24

struct walfile {
	sqlite3_file base;	/* our methods: must be first */
	sqlite3_file *real;	/* SQLite's own file, right after us */
	unsigned char *buf;	/* WAL_BUF_MAX bytes, once needed */
	size_t len;		/* gathered in buf, for file offset off */
	sqlite3_int64 off;
	int direct;		/* after a commit header: write through */
};

static sqlite3_vfs *vfs_base;
static sqlite3_vfs vfs;

/* Writes the gathered bytes.  Returns SQLITE_OK, or the error of the write
 * underneath (the bytes are dropped either way). */
static int
wal_flush(struct walfile *w)
{
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
	w->len = 0;
	return rc;
}

/* Appends n bytes for offset off to the gathered ones, flushing first when
 * they do not follow on or would not fit; bytes that cannot be gathered
 * (too many, or no memory) are written at once.  Returns SQLITE_OK or an
 * error. */
static int
wal_gather(struct walfile *w, const void *p, int n, sqlite3_int64 off)
{
	int rc;

	if (w->len > 0 && (off != w->off + (sqlite3_int64)w->len ||
	    w->len + (size_t)n > WAL_BUF_MAX))
		if ((rc = wal_flush(w)) != SQLITE_OK)
			return rc;
	if (w->buf == NULL)
		w->buf = malloc(WAL_BUF_MAX);
	if (w->buf == NULL || (size_t)n > WAL_BUF_MAX)
		return w->real->pMethods->xWrite(w->real, p, n, off);
	if (w->len == 0)
		w->off = off;
	memcpy(w->buf + w->len, p, (size_t)n);
	w->len += (size_t)n;
	return SQLITE_OK;
}

static int
wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct walfile *w = (struct walfile *)f;
	const unsigned char *h = p;
	int rc;

	if (n == WAL_FRAME_HDR) {
		/* A frame header: the commit frame's carries the database
		 * size in pages, any other one 0. */
		if ((h[4] | h[5] | h[6] | h[7]) != 0) {
			if ((rc = wal_gather(w, p, n, off)) != SQLITE_OK)
				return rc;
			w->direct = 1;
			return wal_flush(w);
		}
		w->direct = 0;
	}
	if (w->direct) {
		if ((rc = wal_flush(w)) != SQLITE_OK)
			return rc;
		return w->real->pMethods->xWrite(w->real, p, n, off);
	}
	return wal_gather(w, p, n, off);
}

/* Every other method: flush, then SQLite's own. */
static int
wal_close(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;
	int rc, rc2;

	rc = wal_flush(w);
	rc2 = w->real->pMethods->xClose(w->real);
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xRead(w->real, p, n, off);
}

static int
wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xTruncate(w->real, size);
}

static int
wal_sync(sqlite3_file *f, int flags)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xSync(w->real, flags);
}

static int
wal_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xFileSize(w->real, size);
}

static int
wal_lock(sqlite3_file *f, int level)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xLock(w->real, level);
}

static int
wal_unlock(sqlite3_file *f, int level)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xUnlock(w->real, level);
}

static int
wal_reserved(sqlite3_file *f, int *out)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int
wal_fcntl(sqlite3_file *f, int op, void *arg)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int
wal_sector(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xSectorSize(w->real);
}

static int
wal_device(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Version 1: a WAL file has no shared memory and is never mapped. */
static const sqlite3_io_methods wal_methods = {
	1, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_size,
	wal_lock, wal_unlock, wal_reserved, wal_fcntl, wal_sector, wal_device,
	NULL, NULL, NULL, NULL, NULL, NULL
};

static int
vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	(void)v;
	/* Anything but a WAL is SQLite's own file object, in place. */
	if (!(flags & SQLITE_OPEN_WAL))
		return vfs_base->xOpen(vfs_base, name, f, flags, out);
	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)(w + 1);
	rc = vfs_base->xOpen(vfs_base, name, w->real, flags, out);
	/* SQLite calls xClose, even after a failed xOpen, when pMethods is
	 * set: ours then, whenever SQLite's own file needs closing. */
	if (w->real->pMethods != NULL)
		w->base.pMethods = &wal_methods;
	return rc;
}

/* The rest is the base VFS's. */
static int
vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return vfs_base->xDelete(vfs_base, name, sync);
}

static int
vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return vfs_base->xAccess(vfs_base, name, flags, out);
}

static int
vfs_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return vfs_base->xFullPathname(vfs_base, name, n, out);
}

static void *
vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return vfs_base->xDlOpen(vfs_base, name);
}

static void
vfs_dlerror(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	vfs_base->xDlError(vfs_base, n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return vfs_base->xDlSym(vfs_base, h, sym);
}

static void
vfs_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	vfs_base->xDlClose(vfs_base, h);
}

static int
vfs_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return vfs_base->xRandomness(vfs_base, n, out);
}

static int
vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return vfs_base->xSleep(vfs_base, us);
}

static int
vfs_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return vfs_base->xCurrentTime(vfs_base, out);
}

static int
vfs_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return vfs_base->xGetLastError(vfs_base, n, out);
}

static int
vfs_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return vfs_base->xCurrentTimeInt64(vfs_base, out);
}

/*
 * Returns the name of parkd's VFS for sqlite3_open_v2(), registering it
 * on first use over the default VFS of that moment; NULL (SQLite's
 * default) when that fails.
 */
const char *
db_vfs_name(void)
{
	static int done;

	if (done)
		return done > 0 ? vfs.zName : NULL;
	done = -1;
	if ((vfs_base = sqlite3_vfs_find(NULL)) == NULL ||
	    vfs_base->iVersion < 2 || vfs_base->xCurrentTimeInt64 == NULL)
		return NULL;
	vfs.iVersion = 2;
	vfs.szOsFile = (int)sizeof(struct walfile) + vfs_base->szOsFile;
	vfs.mxPathname = vfs_base->mxPathname;
	vfs.zName = "parkd";
	vfs.xOpen = vfs_open;
	vfs.xDelete = vfs_delete;
	vfs.xAccess = vfs_access;
	vfs.xFullPathname = vfs_full;
	vfs.xDlOpen = vfs_dlopen;
	vfs.xDlError = vfs_dlerror;
	vfs.xDlSym = vfs_dlsym;
	vfs.xDlClose = vfs_dlclose;
	vfs.xRandomness = vfs_random;
	vfs.xSleep = vfs_sleep;
	vfs.xCurrentTime = vfs_time;
	vfs.xGetLastError = vfs_lasterr;
	vfs.xCurrentTimeInt64 = vfs_time64;
	if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
		return NULL;
	done = 1;
	return vfs.zName;
}
