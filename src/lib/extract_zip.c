/*
 * Structural check of a zip file before libarchive extracts it: find the
 * central directory exactly the way libarchive's seekable reader does, walk
 * it, and make sure no two entries share or overlap their local data.
 * libarchive keys entries by local header offset and silently keeps one of
 * several entries that point at the same header; overlapping entries
 * (Fifield's "better zip bomb") multiply output without multiplying input.
 *
 * The directory checked must be the one libarchive reads: it takes the last
 * end record of the last 16 KiB (searching back from the end), then scans
 * forward from the recorded directory offset for the first directory
 * signature (the distance is taken as prepended data) and walks headers
 * until an end record. So a zip is refused unless those readings agree: the
 * last end record is valid, and the directory it records starts where the
 * scan lands, ends right at the end record, and holds as many headers as it
 * says. A zip the
 * seekable reader would not bid on (its streaming reader, which loses modes
 * and symlinks, would take over) is refused too.
 */
#include "lib/extract_int.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EOCD_SIZE 22
#define EOCD_WINDOW 16384 /* libarchive looks for the end record in this many last bytes */
#define EOCD64_LOCATOR_SIZE 20
#define EOCD64_SIZE 56
#define CDH_SIZE 46
#define LFH_SIZE 30
#define SCAN_BLOCK 65536
/* A central directory this large is not worth reading (200000 entries of ~1 KiB). */
#define CD_MAX ((uint64_t)256 << 20)

typedef struct {
	uint64_t entries;   /* as the end record says */
	uint64_t cd_offset; /* as declared: where libarchive starts looking */
	uint64_t cd_size;
	uint64_t cd_end; /* where the (zip64) end record is: the directory ends there */
	int zip64;
} zip_end;

typedef struct {
	uint64_t start; /* local header offset, corrected for prepended data */
	uint64_t end;   /* lower bound of the end of its data */
	const unsigned char *name;
	uint16_t name_len;
} zip_span;

typedef struct {
	zip_span *v;
	size_t count, alloc;
} zip_spans;

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int is_sig(const unsigned char *p, unsigned a, unsigned b)
{
	return p[0] == 'P' && p[1] == 'K' && p[2] == a && p[3] == b;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int damaged(const xpolicy *p, const char *what)
{
	return udfenv_error_set(UDFENV_EINVALID, "archive '%s' is not a valid zip file: %s",
	                        p->label, what);
}

/* libarchive's read_eocd: the end record at file offset `at`. */
static int eocd32_ok(const unsigned char *e, uint64_t at, zip_end *d)
{
	if (le16(e + 4) != 0 || le16(e + 6) != 0 || le16(e + 10) != le16(e + 8) ||
	    (uint64_t)le32(e + 16) + le32(e + 12) > at)
		return 0;
	d->cd_offset = le32(e + 16);
	d->cd_size = le32(e + 12);
	d->cd_end = at;
	d->entries = le16(e + 10);
	return 1;
}

/* libarchive's read_zip64_eocd: the zip64 locator `loc`. */
static int eocd64_ok(int fd, uint64_t size, const unsigned char *loc, zip_end *d)
{
	unsigned char r[EOCD64_SIZE];
	uint64_t at = le64(loc + 8);

	if (le32(loc + 4) != 0 || le32(loc + 16) != 1 || size < EOCD64_SIZE ||
	    at > size - EOCD64_SIZE || read_at(fd, r, sizeof(r), at) < 0)
		return 0;
	if (le64(r + 4) < EOCD64_SIZE - 12 || le64(r + 4) > EOCD_WINDOW - 12 || le32(r + 16) != 0 ||
	    le32(r + 20) != 0 || le64(r + 24) != le64(r + 32))
		return 0;
	d->cd_offset = le64(r + 48);
	d->cd_size = le64(r + 40);
	d->cd_end = at;
	d->entries = le64(r + 32);
	d->zip64 = 1;
	return 1;
}

/*
 * Where the end record is, found the way libarchive's seekable reader finds
 * it: the last "PK\5\6" of the last 16 KiB, searching back from the end and
 * never at the window's first byte (0: none). An earlier one belongs to an
 * uncompressed zip stored inside this one (Info-ZIP and Python's zipfile
 * both store inner zips as they are), and libarchive passes over it too.
 */
static size_t end_position(const unsigned char *buf, size_t tail)
{
	if (tail < EOCD_SIZE)
		return 0;
	for (size_t i = tail - EOCD_SIZE; i > 0; i--)
		if (is_sig(buf + i, 5, 6))
			return i;
	return 0;
}

/* The end record, and from it where the central directory is said to start. */
static int find_end(const xpolicy *p, int fd, uint64_t size, zip_end *d)
{
	size_t tail = size < EOCD_WINDOW ? (size_t)size : EOCD_WINDOW, i;
	uint64_t base = size - tail;
	unsigned char buf[EOCD_WINDOW];
	int ok;

	if (read_at(fd, buf, tail, base) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read archive '%s'", p->label);
	if ((i = end_position(buf, tail)) == 0)
		return damaged(p, "no central directory (truncated?)");
	ok = eocd32_ok(buf + i, base + i, d);
	if (i >= EOCD64_LOCATOR_SIZE && is_sig(buf + i - EOCD64_LOCATOR_SIZE, 6, 7))
		ok |= eocd64_ok(fd, size, buf + i - EOCD64_LOCATOR_SIZE, d);
	return ok ? 0 : damaged(p, "no usable central directory");
}

/*
 * Where the directory starts: `cd_end` - `cd_size`, which must also be where
 * libarchive's forward scan from the recorded offset stops.
 */
static int find_cd_start(const xpolicy *p, int fd, const zip_end *d, uint64_t *out)
{
	unsigned char buf[SCAN_BLOCK];
	uint64_t start, from = d->cd_offset;

	if (d->cd_size > d->cd_end || d->cd_offset > d->cd_end - d->cd_size)
		return damaged(p, "central directory outside the file");
	start = d->cd_end - d->cd_size;
	while (from <= start) {
		uint64_t left = start + 4 - from;
		size_t n = left < SCAN_BLOCK ? (size_t)left : SCAN_BLOCK;
		if (read_at(fd, buf, n, from) < 0)
			return udfenv_error_set_os(UDFENV_ERROR, "cannot read archive '%s'",
			                           p->label);
		for (size_t i = 0; i + 4 <= n; i++) {
			if (is_sig(buf + i, 1, 2) || is_sig(buf + i, 5, 6) ||
			    is_sig(buf + i, 6, 6)) {
				if (from + i != start)
					break;
				*out = start;
				return 0;
			}
		}
		from += n - 3; /* a signature may straddle blocks */
	}
	return damaged(p, "the central directory is not where its end record says");
}

/* Apply the zip64 extra field of a central directory header to the fields marked 0xffffffff. */
static int apply_zip64(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize,
                       uint64_t *offset)
{
	while (xlen >= 4) {
		uint16_t id = le16(x), len = le16(x + 2);
		const unsigned char *v = x + 4;
		if ((size_t)len + 4 > xlen)
			return -1;
		if (id == 0x0001) {
			uint64_t *fields[3] = {usize, csize, offset};
			for (int i = 0; i < 3; i++) {
				if (*fields[i] != 0xffffffffu)
					continue;
				if (v + 8 > x + 4 + len)
					return -1;
				*fields[i] = le64(v);
				v += 8;
			}
			return 0;
		}
		x += 4 + len;
		xlen -= 4 + (size_t)len;
	}
	return 0;
}

static int push_span(zip_spans *s, const zip_span *x)
{
	int error;

	if ((error = udfenv_array_reserve((void **)&s->v, &s->alloc, s->count, sizeof(*s->v))) < 0)
		return error;
	s->v[s->count++] = *x;
	return 0;
}

/* One central directory header at `h` (`left` bytes of directory from there). */
static int read_header(const xpolicy *p, const unsigned char *h, uint64_t left, uint64_t size,
                       uint64_t correction, zip_span *x, size_t *len)
{
	uint64_t usize, csize, offset;
	size_t nlen, xlen, clen;

	if (left < CDH_SIZE)
		return damaged(p, "truncated central directory");
	nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
	if (left - CDH_SIZE < nlen + xlen + clen)
		return damaged(p, "truncated central directory");
	csize = le32(h + 20), usize = le32(h + 24), offset = le32(h + 42);
	if (apply_zip64(h + CDH_SIZE + nlen, xlen, &usize, &csize, &offset) < 0)
		return damaged(p, "damaged zip64 extra field");
	if (offset > size || csize > size || correction > size - offset)
		return damaged(p, "an entry points past the end of the file");
	x->start = offset + correction;
	x->end = x->start + LFH_SIZE + csize;
	x->name = h + CDH_SIZE;
	x->name_len = (uint16_t)nlen;
	*len = CDH_SIZE + nlen + xlen + clen;
	return 0;
}

/* Walk the directory `cd` of exactly `n` bytes: headers only, up to its end record. */
static int read_spans(const xpolicy *p, const unsigned char *cd, uint64_t n, uint64_t size,
                      uint64_t correction, zip_spans *spans)
{
	uint64_t at = 0;
	zip_span x;
	size_t len = 0;
	int error;

	while (at < n) {
		if (n - at < 4 || !is_sig(cd + at, 1, 2))
			return damaged(p, "invalid central directory signature");
		if (spans->count >= p->lim->max_entries)
			return udfenv_error_set(UDFENV_ELIMIT,
			                        "archive '%s' has more than %llu entries", p->label,
			                        (unsigned long long)p->lim->max_entries);
		if ((error = read_header(p, cd + at, n - at, size, correction, &x, &len)) < 0 ||
		    (error = push_span(spans, &x)) < 0)
			return error;
		at += len;
	}
	return 0;
}

static int span_cmp(const void *a, const void *b)
{
	const zip_span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int overlap_error(const xpolicy *p, const zip_span *a, const zip_span *b)
{
	char *na = strndup((const char *)a->name, a->name_len);
	char *nb = strndup((const char *)b->name, b->name_len);
	char shown[UDFENV_TEXT_SHOW_SIZE];
	int error;

	if (na == NULL || nb == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	} else {
		udfenv_text_show(shown, na);
		error = udfenv_extract__entry_error(
		    p, UDFENV_EUNSAFE, nb,
		    "shares its data with entry '%s' (overlapping zip entries)", shown);
	}
	free(na);
	free(nb);
	return error;
}

static int check_spans(const xpolicy *p, zip_spans *s, const zip_end *d, uint64_t cd_start)
{
	/* Old writers let a 16-bit count wrap past 65535 entries. */
	if (d->zip64 ? s->count != d->entries : (s->count & 0xffff) != d->entries)
		return damaged(p, "the central directory and its end record disagree on the "
		                  "number of entries");
	if (s->count > 1)
		qsort(s->v, s->count, sizeof(*s->v), span_cmp);
	for (size_t i = 0; i < s->count; i++) {
		if (i + 1 < s->count && s->v[i].end > s->v[i + 1].start)
			return overlap_error(p, &s->v[i], &s->v[i + 1]);
		if (s->v[i].end > cd_start)
			return damaged(p, "entry data overlaps the central directory");
	}
	return 0;
}

int udfenv_extract__zip_layout(const xpolicy *p, int fd, uint64_t size)
{
	zip_end d = {0, 0, 0, 0, 0};
	zip_spans spans = {NULL, 0, 0};
	unsigned char *cd = NULL;
	uint64_t cd_start = 0;
	int error;

	if ((error = find_end(p, fd, size, &d)) < 0 ||
	    (error = find_cd_start(p, fd, &d, &cd_start)) < 0)
		goto done;
	if (d.cd_size > CD_MAX) {
		error = udfenv_error_set(
		    UDFENV_ELIMIT, "archive '%s' has a central directory larger than %llu bytes",
		    p->label, (unsigned long long)CD_MAX);
		goto done;
	}
	if ((cd = malloc(d.cd_size ? (size_t)d.cd_size : 1)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if (read_at(fd, cd, (size_t)d.cd_size, cd_start) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot read archive '%s'", p->label);
		goto done;
	}
	if ((error = read_spans(p, cd, d.cd_size, size, cd_start - d.cd_offset, &spans)) < 0 ||
	    (error = check_spans(p, &spans, &d, cd_start)) < 0)
		goto done;
done:
	free(cd);
	free(spans.v);
	return error;
}
