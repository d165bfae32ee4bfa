/*
 * Node cache maintenance: listing, GC by size and last use (never a leased
 * entry), clearing, reclaiming what dead processes left, and the cache's
 * config keys.
 */
#include "lib/cache_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int udfenv_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	char *end;
	double v;
	const char *u;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || !isfinite(v))
		goto bad;
	if (*end) {
		if ((u = strchr(units, *end & ~0x20)) == NULL)
			goto bad;
		for (const char *k = units; k <= u; k++)
			v *= 1024;
		end++;
		if ((*end & ~0x20) == 'I' && (end[1] & ~0x20) == 'B')
			end += 2;
		else if ((*end & ~0x20) == 'B')
			end++;
		if (*end)
			goto bad;
	}
	if (v >= 18446744073709551615.0)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	return udfenv_error_set(UDFENV_EINVALID,
				"'%s' is not a size: give bytes or a number with K, M, G or T (1024-based), "
				"e.g. 500M or 10G", s);
}

int udfenv_cache_config(const udfenv_config *cfg, const char **dir, uint64_t *max_size, int *copy_archives)
{
	const char *v;
	int error;

	if (dir)
		*dir = cfg ? udfenv_config_get(cfg, "udfenv.cache.dir") : NULL;
	if (max_size) {
		*max_size = UDFENV_CACHE_DEFAULT_MAX_SIZE;
		if (cfg && (v = udfenv_config_get(cfg, "udfenv.cache.max-size")) != NULL &&
		    (error = udfenv_parse_size(v, max_size)) < 0)
			return udfenv_error_prefix("udfenv.cache.max-size: ");
	}
	if (copy_archives) {
		*copy_archives = 0;
		if (cfg && (v = udfenv_config_get(cfg, "udfenv.cache.copy-archives")) != NULL) {
			if (strcmp(v, "true") == 0)
				*copy_archives = 1;
			else if (strcmp(v, "false") != 0)
				return udfenv_error_set(UDFENV_EINVALID,
							"udfenv.cache.copy-archives: '%s' is not true or false", v);
		}
	}
	return 0;
}

static double mtime_of(const struct stat *st)
{
	return (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec / 1e9;
}

/* Whether anyone holds a lease on `key` now (a momentary non-blocking exclusive lock tells). */
static int is_leased(udfenv_cache *c, const char *key)
{
	int fd, r = udfenv_cache__lock(c, key, LOCK_EX | LOCK_NB, NULL, &fd);

	udfenv_error_clear();
	if (r == 0)
		close(fd);
	return r == 1;
}

static int describe(udfenv_cache *c, const char *key, udfenv_cache_entry *e)
{
	char path[NAME_MAX + 16];
	json_t *m = udfenv_cache__marker(c, key);
	struct stat st;

	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(path, sizeof(path), "locks/%s", key);
	if (fstatat(c->fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		e->last_used = mtime_of(&st);
	if (m) {
		const char *kind = json_string_value(json_object_get(m, "kind"));
		snprintf(e->kind, sizeof(e->kind), "%s", kind ? kind : "?");
		e->name = strdup(json_string_value(json_object_get(m, "name")) ?: "?");
		e->info = strdup(json_string_value(json_object_get(m, "info")) ?: "");
		e->size = (uint64_t)json_integer_value(json_object_get(m, "size"));
		e->files = (uint64_t)json_integer_value(json_object_get(m, "files"));
		e->created = json_number_value(json_object_get(m, "created"));
		e->build_seconds = json_number_value(json_object_get(m, "build_seconds"));
		e->complete = 1;
		json_decref(m);
	} else {
		int fd;
		snprintf(path, sizeof(path), "entries/%s", key);
		snprintf(e->kind, sizeof(e->kind), "?");
		e->name = strdup("(incomplete)");
		e->info = strdup("");
		if ((fd = openat(c->fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
			udfenv_cache__du(fd, path, &e->size, &e->files);
		udfenv_error_clear();
	}
	if (e->last_used == 0)
		e->last_used = e->created;
	e->leased = is_leased(c, key);
	if (e->name == NULL || e->info == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}

static int by_last_use(const void *a, const void *b)
{
	const udfenv_cache_entry *x = a, *y = b;
	return x->last_used < y->last_used ? -1 : x->last_used > y->last_used ? 1 : strcmp(x->key, y->key);
}

int udfenv_cache__each_name(udfenv_cache *c, const char *sub,
			    int (*fn)(udfenv_cache *, const char *, void *), void *payload)
{
	int fd = openat(c->fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s/%s'", c->root.ptr, sub);
	}
	while (error == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			error = fn(c, de->d_name, payload);
	closedir(d);
	return error;
}

typedef struct {
	udfenv_cache_entry *items;
	size_t count, cap;
} entry_list;

static int add_entry(udfenv_cache *c, const char *key, void *payload)
{
	entry_list *l = payload;
	int error;

	if (!udfenv_sha256_is_hex(key))
		return 0;
	if ((error = udfenv_array_reserve((void **)&l->items, &l->cap, l->count, sizeof(*l->items))) < 0)
		return error;
	l->count++;
	return describe(c, key, &l->items[l->count - 1]);
}

int udfenv_cache_list(udfenv_cache *c, udfenv_cache_entry **out, size_t *count)
{
	entry_list l = {NULL, 0, 0};
	int error;

	*out = NULL;
	*count = 0;
	if ((error = udfenv_cache__each_name(c, "entries", add_entry, &l)) < 0) {
		udfenv_cache_list_free(l.items, l.count);
		return error;
	}
	if (l.count)
		qsort(l.items, l.count, sizeof(*l.items), by_last_use);
	*out = l.items;
	*count = l.count;
	return 0;
}

void udfenv_cache_list_free(udfenv_cache_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(entries[i].name);
		free(entries[i].info);
	}
	free(entries);
}

/* Remove entry `key` unless it is leased: 1 removed, 0 leased. */
static int remove_entry(udfenv_cache *c, const char *key)
{
	char rel[NAME_MAX + 16], build[NAME_MAX + 16];
	int fd, error;

	if ((error = udfenv_cache__lock(c, key, LOCK_EX | LOCK_NB, NULL, &fd)) != 0)
		return error < 0 ? error : 0;
	snprintf(rel, sizeof(rel), "entries/%s", key);
	if ((error = udfenv_cache__discard(c, rel, "entry-")) == 0) {
		/* Lock files go too: whoever waits on one finds it stale and makes a new one. */
		snprintf(build, sizeof(build), "locks/%s.build", key);
		unlinkat(c->fd, build, 0);
		snprintf(rel, sizeof(rel), "locks/%s", key);
		unlinkat(c->fd, rel, 0);
	}
	close(fd);
	return error < 0 ? error : 1;
}

/* In trash/: leftovers of a GC that died. */
static int reclaim_trash(udfenv_cache *c, const char *name, void *payload)
{
	udfenv_buf p = UDFENV_BUF_INIT;

	if (udfenv_buf_printf(&p, "%s/trash/%s", c->root.ptr, name) == 0 && udfenv_fs_rmtree(p.ptr) == 0)
		(*(unsigned *)payload)++;
	udfenv_buf_dispose(&p);
	udfenv_error_clear();
	return 0;
}

/*
 * A remembered record's temp file (.tmp-XXXXXX, beside the records; in
 * tmp/ when older versions wrote it) that was never renamed: its writer
 * died between the two steps, which take microseconds.
 */
#define STALE_RECORD_SECONDS 60

/* `sub`/`name` if it is such a temp file: 1 removed, else 0. */
static int reclaim_stale_temp(udfenv_cache *c, const char *sub, const char *name)
{
	char rel[NAME_MAX + 16];
	struct stat st;

	if (strncmp(name, ".tmp-", 5) != 0)
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s", sub, name);
	return fstatat(c->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       mtime_of(&st) < udfenv_wall_now() - STALE_RECORD_SECONDS && unlinkat(c->fd, rel, 0) == 0;
}

/* The records of one kind (its dir's name) and a count of the leftovers reclaimed. */
typedef struct {
	const char *kind;
	unsigned *count;
} record_walk;

static int reclaim_record_temp(udfenv_cache *c, const char *name, void *payload)
{
	const record_walk *w = payload;

	*w->count += (unsigned)reclaim_stale_temp(c, w->kind, name);
	return 0;
}

/* tmp/<key>.XXXXXX whose build lock is free: a builder that died. */
static int reclaim_build(udfenv_cache *c, const char *name, void *payload)
{
	char lock[NAME_MAX + 1];
	const char *dot = strchr(name, '.');
	udfenv_buf p = UDFENV_BUF_INIT;
	int fd;

	if (strncmp(name, ".tmp-", 5) == 0) {
		*(unsigned *)payload += (unsigned)reclaim_stale_temp(c, "tmp", name);
		return 0;
	}
	if (dot == NULL || dot - name != 64)
		return 0;
	snprintf(lock, sizeof(lock), "%.64s.build", name);
	if (udfenv_cache__lock(c, lock, LOCK_EX | LOCK_NB, NULL, &fd) == 0) {
		if (udfenv_buf_printf(&p, "%s/tmp/%s", c->root.ptr, name) == 0 && udfenv_fs_rmtree(p.ptr) == 0)
			(*(unsigned *)payload)++;
		close(fd);
	}
	udfenv_buf_dispose(&p);
	udfenv_error_clear();
	return 0;
}

/* work/<h> -> a private env dir: removed when no process holds its lock (on the dir) any more. */
static int reclaim_work(udfenv_cache *c, const char *name, void *payload)
{
	char reg[NAME_MAX + 8], dir[PATH_MAX];
	ssize_t n;
	int fd = -1;
	struct stat st;

	snprintf(reg, sizeof(reg), "work/%s", name);
	if ((n = readlinkat(c->fd, reg, dir, sizeof(dir) - 1)) <= 0)
		goto done;
	dir[n] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			unlinkat(c->fd, reg, 0); /* its dir is gone already */
		goto done;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid()) {
		udfenv_log(UDFENV_LOG_INFO, "cache: removing the private dir of a dead process: %s", dir);
		if (udfenv_fs_rmtree(dir) == 0) {
			unlinkat(c->fd, reg, 0);
			(*(unsigned *)payload)++;
		}
	}
done:
	if (fd >= 0)
		close(fd);
	udfenv_error_clear();
	return 0;
}

/* A remembered record and its lock file (locks/<kind>-<name>.memo); one being written (its lock held) stays. */
static int remove_record(udfenv_cache *c, const char *name, void *payload)
{
	const record_walk *w = payload;
	char lock[NAME_MAX + 1], rel[NAME_MAX + 32];
	int fd = -1;

	snprintf(lock, sizeof(lock), "%s-%s.memo", w->kind, name);
	if (name[0] != '.' && udfenv_cache__lock(c, lock, LOCK_EX | LOCK_NB, NULL, &fd) != 0) {
		udfenv_error_clear();
		return 0;
	}
	snprintf(rel, sizeof(rel), "%s/%s", w->kind, name);
	unlinkat(c->fd, rel, 0);
	if (fd >= 0) {
		snprintf(rel, sizeof(rel), "locks/%s", lock);
		unlinkat(c->fd, rel, 0);
		close(fd);
	}
	return 0;
}

/* Each record dir's files through `fn` (reclaim_record_temp or remove_record). */
static int each_record(udfenv_cache *c, int (*fn)(udfenv_cache *, const char *, void *), unsigned *count)
{
	static const char *const kinds[] = {"digests", "interp"};
	int error = 0;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && error == 0; i++) {
		record_walk w = {kinds[i], count};
		error = udfenv_cache__each_name(c, kinds[i], fn, &w);
	}
	return error;
}

static int gc(udfenv_cache *c, uint64_t max_size, int wait, int records, udfenv_cache_gc_report *report)
{
	udfenv_cache_gc_report r = {0};
	udfenv_cache_entry *entries = NULL;
	size_t n = 0;
	int lock = -1, error;

	if ((lock = openat(c->fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s/gc.lock'", c->root.ptr);
	while (flock(lock, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
		if (errno != EINTR) {
			error = errno == EWOULDBLOCK
					? udfenv_error_set(UDFENV_EBUSY, "another GC of '%s' is running", c->dir.ptr)
					: udfenv_error_set_os(UDFENV_ERROR, "cannot lock '%s/gc.lock'", c->root.ptr);
			goto done;
		}
	if ((error = udfenv_cache__each_name(c, "trash", reclaim_trash, &r.reclaimed)) < 0 ||
	    (error = udfenv_cache__each_name(c, "tmp", reclaim_build, &r.reclaimed)) < 0 ||
	    (error = udfenv_cache__each_name(c, "work", reclaim_work, &r.reclaimed)) < 0 ||
	    (error = each_record(c, reclaim_record_temp, &r.reclaimed)) < 0 ||
	    (error = udfenv_cache_list(c, &entries, &n)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++)
		r.remaining += entries[i].size;
	/* Least recently used first; a leased entry is skipped, not waited for. */
	for (size_t i = 0; i < n && r.remaining > max_size; i++) {
		int removed = remove_entry(c, entries[i].key);
		if (removed < 0) {
			error = removed;
			goto done;
		}
		if (removed) {
			r.removed++;
			r.freed += entries[i].size;
			r.remaining -= entries[i].size;
			udfenv_log(UDFENV_LOG_INFO, "cache: removed %s '%s' (%llu bytes)", entries[i].kind,
				   entries[i].name, (unsigned long long)entries[i].size);
		} else {
			r.kept_leased++;
		}
	}
	r.entries_left = (unsigned)(n - r.removed);
	/* Clearing: the remembered records go too, temp files and lock files with them. */
	if (records && (error = each_record(c, remove_record, NULL)) < 0)
		goto done;
done:
	udfenv_cache_list_free(entries, n);
	close(lock);
	if (report)
		*report = r;
	return error;
}

int udfenv_cache_gc(udfenv_cache *c, uint64_t max_size, int wait, udfenv_cache_gc_report *report)
{
	return gc(c, max_size, wait, 0, report);
}

int udfenv_cache_clear(udfenv_cache *c, udfenv_cache_gc_report *report)
{
	return gc(c, 0, 1, 1, report);
}

void udfenv_cache__auto_gc(udfenv_cache *c, uint64_t max_size)
{
	udfenv_cache_gc_report r;
	udfenv_cache_entry *entries;
	size_t n;
	uint64_t total = 0;

	/* Listing is cheap and needs no lock; a GC (which lists again) only when over. */
	if (max_size == 0 || udfenv_cache_list(c, &entries, &n) < 0) {
		udfenv_error_clear();
		return;
	}
	for (size_t i = 0; i < n; i++)
		total += entries[i].size;
	udfenv_cache_list_free(entries, n);
	/* Never waits: if another GC runs, it does the work. */
	if (total > max_size && gc(c, max_size, 0, 0, &r) == 0)
		udfenv_log(UDFENV_LOG_INFO,
			   "cache: over %llu bytes: removed %u entries (%llu bytes), %u leased kept",
			   (unsigned long long)max_size, r.removed, (unsigned long long)r.freed, r.kept_leased);
	udfenv_error_clear();
}
