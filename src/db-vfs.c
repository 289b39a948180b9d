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

#define REAL(f) (((struct walfile *)(f))->real)

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

/* Every other method: SQLite's own, after a flush where the file's
 * content matters. */
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
	int rc = wal_flush((struct walfile *)f);

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = wal_flush((struct walfile *)f);

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
wal_sync(sqlite3_file *f, int flags)
{
	int rc = wal_flush((struct walfile *)f);

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
wal_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = wal_flush((struct walfile *)f);

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
wal_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
wal_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
wal_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
wal_fcntl(sqlite3_file *f, int op, void *arg)
{
	int rc = wal_flush((struct walfile *)f);

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
wal_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
wal_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
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
	if ((vfs_base = sqlite3_vfs_find(NULL)) == NULL)
		return NULL;
	/* The base's own methods, pAppData and limits, but for xOpen: they
	 * take the VFS they are called on only for its pAppData. */
	vfs = *vfs_base;
	vfs.pNext = NULL;
	vfs.szOsFile = (int)sizeof(struct walfile) + vfs_base->szOsFile;
	vfs.zName = "parkd";
	vfs.xOpen = vfs_open;
	if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
		return NULL;
	done = 1;
	return vfs.zName;
}
