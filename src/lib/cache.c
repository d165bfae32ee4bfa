/*
 * The node cache: opening it, leasing and building entries, remembered
 * digests, registered private dirs. GC, listing and the size bound are in
 * cache_gc.c. The protocol (REFERENCE.md section 4):
 *
 * - Using an entry: take a shared flock on locks/<key> (the lease) and keep
 *   it while any process uses the entry; the kernel drops it when the last
 *   holder dies. GC takes that lock exclusively without waiting, so it
 *   never removes a leased entry.
 * - Building a missing one, lease held: take locks/<key>.build exclusively
 *   (others wait there), look again (someone may have built it meanwhile),
 *   build in tmp/<key>.XXXXXX, write the marker last, syncfs, rename to
 *   entries/<key> with RENAME_NOREPLACE.
 * - GC may unlink a lock file while another process waits on it, so every
 *   lock, once had, is checked to still be the file at its name.
 */
#include "lib/cache.h"
#include "lib/cache_int.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"
#include "util/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static const char *const subdirs[] = {"entries", "locks", "tmp", "trash", "digests", "interp", "work", NULL};

static const char cachedir_tag[] =
	"Signature: 8a477f597d28d172789f06886806bc55\n"
	"# This file is a cache directory tag created by udfenv (docs/cache.md).\n"
	"# For information about cache directory tags see https://bford.info/cachedir/\n";

/* The cache dir when none is configured. */
static int default_dir(udfenv_buf *out)
{
	const char *v;

	if ((v = getenv("UDFENV_CACHE_DIR")) && v[0])
		return udfenv_buf_sets(out, v);
	if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/')
		return udfenv_buf_printf(out, "%s/udfenv", v);
	if ((v = getenv("HOME")) && v[0] == '/')
		return udfenv_buf_printf(out, "%s/.cache/udfenv", v);
	return udfenv_error_set(UDFENV_ENOTFOUND,
				"no node cache dir: HOME is not set; set udfenv.cache.dir or "
				"$UDFENV_CACHE_DIR");
}

/* Only this user may write the cache: anyone else could plant an entry. */
static int check_owner(const char *dir, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot stat the cache dir '%s'", dir);
	if (st.st_uid != geteuid())
		return udfenv_error_set(UDFENV_EUNSAFE,
					"the cache dir '%s' belongs to uid %u, not to this user (uid "
					"%u): choose another (udfenv.cache.dir, $UDFENV_CACHE_DIR)",
					dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return udfenv_error_set(UDFENV_EUNSAFE,
					"the cache dir '%s' is writable by others (mode %04o), who "
					"could plant entries: chmod go-w it or choose another",
					dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * Make the layout under the cache dir open at `top`: the tag, v1 and its
 * subdirs; what exists already is fine (another process may be doing the
 * same). Only a missing or incomplete v1 gets here, not every open.
 */
static int make_layout(udfenv_cache *c, int top, const char *real)
{
	udfenv_buf tag = UDFENV_BUF_INIT;

	if (faccessat(top, "CACHEDIR.TAG", F_OK, 0) < 0) {
		if (udfenv_buf_printf(&tag, "%s/CACHEDIR.TAG", real) == 0)
			udfenv_fs_write_atomic(tag.ptr, cachedir_tag, sizeof(cachedir_tag) - 1, 0644);
		udfenv_buf_dispose(&tag);
		udfenv_error_clear();
	}
	if (mkdirat(top, "v1", 0700) < 0 && errno != EEXIST)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s'", c->root.ptr);
	if (c->fd < 0 && (c->fd = openat(top, "v1", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", c->root.ptr);
	for (size_t i = 0; subdirs[i]; i++)
		if (mkdirat(c->fd, subdirs[i], 0700) < 0 && errno != EEXIST)
			return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot create '%s/%s'",
						   c->root.ptr, subdirs[i]);
	return 0;
}

/*
 * Whether v1, open at `fd`, has all its subdirs. Its link count tells where
 * the filesystem counts subdirs (ext4, xfs, tmpfs: 2 + their number); where
 * it does not (btrfs: 1), we cannot tell and say no.
 */
static int layout_complete(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_nlink >= 2 + sizeof(subdirs) / sizeof(subdirs[0]) - 1;
}

int udfenv_cache_open(udfenv_cache **out, const char *dir)
{
	udfenv_cache *c;
	udfenv_buf given = UDFENV_BUF_INIT;
	char real[PATH_MAX];
	int top = -1, error;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	c->fd = -1;
	if ((error = dir && dir[0] ? udfenv_buf_sets(&given, dir) : default_dir(&given)) < 0)
		goto done;
	/* Warm starts find everything in place: create only what is missing. */
	if (realpath(given.ptr, real) == NULL) {
		if ((error = udfenv_fs_mkdir_p(given.ptr, 0700)) < 0)
			goto done;
		if (realpath(given.ptr, real) == NULL) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot resolve the cache dir '%s'",
						    given.ptr);
			goto done;
		}
	}
	if (strchr(real, ':')) {
		error = udfenv_error_set(UDFENV_EINVALID,
					 "the cache dir '%s' contains ':', which would split "
					 "PYTHONPATH: choose another (udfenv.cache.dir)", real);
		goto done;
	}
	if ((top = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOTDIR)
			error = udfenv_error_set(UDFENV_ECONFLICT, "'%s' exists and is not a directory",
						 given.ptr);
		else
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot open the cache dir '%s'", real);
		goto done;
	}
	if ((error = check_owner(real, top)) < 0 || (error = udfenv_buf_sets(&c->dir, real)) < 0 ||
	    (error = udfenv_buf_printf(&c->root, "%s/v1", real)) < 0)
		goto done;
	c->fd = openat(top, "v1", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd < 0 && errno != ENOENT) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", c->root.ptr);
		goto done;
	}
	if ((c->fd < 0 || !layout_complete(c->fd)) && (error = make_layout(c, top, real)) < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	if (top >= 0)
		close(top);
	udfenv_cache_close(c);
	udfenv_buf_dispose(&given);
	return error;
}

const char *udfenv_cache_dir(const udfenv_cache *c)
{
	return udfenv_buf_cstr(&c->dir);
}

void udfenv_cache_close(udfenv_cache *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	udfenv_buf_dispose(&c->dir);
	udfenv_buf_dispose(&c->root);
	free(c);
}

int udfenv_cache__holds(const udfenv_cache *c, const char *real)
{
	size_t len = c->root.size;

	return strncmp(real, c->root.ptr, len) == 0 && strncmp(real + len, "/entries/", 9) == 0 &&
	       real[len + 9] != '\0';
}

void udfenv_cache__key(const char *text, char key[UDFENV_SHA256_HEX])
{
	udfenv_sha256 *h = NULL;

	/* Only allocation can fail here; a zero key then never matches a real one. */
	if (udfenv_sha256_new(&h) < 0 || udfenv_sha256_update(h, text, strlen(text)) < 0 ||
	    udfenv_sha256_final(h, key) < 0)
		memset(key, '0', UDFENV_SHA256_HEX - 1), key[UDFENV_SHA256_HEX - 1] = '\0';
	udfenv_sha256_free(h);
}

static int canceled(const volatile int *cancel)
{
	return cancel && *cancel;
}

int udfenv_cache__lock(udfenv_cache *c, const char *name, int op, const volatile int *cancel, int *fd_out)
{
	char path[NAME_MAX + 16];
	struct stat held, now;

	*fd_out = -1;
	snprintf(path, sizeof(path), "locks/%s", name);
	for (;;) {
		int fd = openat(c->fd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open the lock '%s/%s'",
						   c->root.ptr, path);
		while (flock(fd, op) < 0) {
			int err = errno;
			if (err == EINTR && !canceled(cancel))
				continue;
			close(fd);
			if (err == EWOULDBLOCK)
				return 1;
			if (err == EINTR)
				return udfenv_error_set(UDFENV_ECANCELED, "setup was stopped");
			errno = err;
			return udfenv_error_set_os(UDFENV_ERROR, "cannot lock '%s/%s'", c->root.ptr, path);
		}
		/* GC may have unlinked the file while we waited: then lock the new one. */
		if (fstat(fd, &held) == 0 && fstatat(c->fd, path, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			*fd_out = fd;
			return 0;
		}
		close(fd);
	}
}

/* The small file `rel` under the root; 0 (and no error kept) when it is missing or too big. */
static int read_small(udfenv_cache *c, const char *rel, udfenv_buf *out, size_t max)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	int ok = udfenv_buf_printf(&path, "%s/%s", c->root.ptr, rel) == 0 &&
		 udfenv_fs_read_file(out, path.ptr, max) == 0 && out->size > 0;

	udfenv_buf_dispose(&path);
	udfenv_error_clear();
	return ok;
}

/* The marker of entry `key`, parsed; NULL when there is none (or it is unreadable). */
json_t *udfenv_cache__marker(udfenv_cache *c, const char *key)
{
	char rel[NAME_MAX + 64];
	udfenv_buf text = UDFENV_BUF_INIT;
	json_t *m = NULL;

	snprintf(rel, sizeof(rel), "entries/%s/" UDFENV_CACHE_MARKER, key);
	if (read_small(c, rel, &text, 1u << 20)) {
		m = json_loadb(text.ptr, text.size, 0, NULL);
		if (m && !(json_is_object(m) && json_integer_value(json_object_get(m, "udfenv_cache_entry")) == 1 &&
			   json_is_string(json_object_get(m, "key")) &&
			   strcmp(json_string_value(json_object_get(m, "key")), key) == 0)) {
			json_decref(m);
			m = NULL;
		}
	}
	udfenv_buf_dispose(&text);
	return m;
}

/* Rename `rel` (under the cache root) into a fresh dir of trash/ and delete it there. */
int udfenv_cache__discard(udfenv_cache *c, const char *rel, const char *label)
{
	udfenv_buf bin = UDFENV_BUF_INIT, dst = UDFENV_BUF_INIT, parent = UDFENV_BUF_INIT;
	int error;

	if ((error = udfenv_buf_printf(&parent, "%s/trash", c->root.ptr)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&bin, parent.ptr, label)) < 0 ||
	    (error = udfenv_buf_printf(&dst, "%s/x", bin.ptr)) < 0)
		goto done;
	if (renameat(c->fd, rel, AT_FDCWD, dst.ptr) < 0 && errno != ENOENT)
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot move '%s/%s' to the trash", c->root.ptr, rel);
	udfenv_fs_rmtree_quiet(bin.ptr);
done:
	udfenv_buf_dispose(&bin);
	udfenv_buf_dispose(&dst);
	udfenv_buf_dispose(&parent);
	return error;
}

/*
 * tmp/<key>.* (payload: the key), left by a builder that died: we hold the
 * build lock, so none is running.
 */
static int reclaim_interrupted(udfenv_cache *c, const char *name, void *payload)
{
	const char *key = payload;
	size_t klen = strlen(key);
	udfenv_buf p = UDFENV_BUF_INIT;

	if (strncmp(name, key, klen) == 0 && name[klen] == '.' &&
	    udfenv_buf_printf(&p, "%s/tmp/%s", c->root.ptr, name) == 0) {
		udfenv_log(UDFENV_LOG_INFO, "cache: removing an interrupted build: %s", p.ptr);
		udfenv_fs_rmtree_quiet(p.ptr);
	}
	udfenv_buf_dispose(&p);
	return 0;
}

int udfenv_cache__du(int dirfd, const char *path, uint64_t *bytes, uint64_t *files)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	udfenv_buf sub_path = UDFENV_BUF_INIT;
	int error = 0;

	if (d == NULL) {
		close(dirfd);
		return udfenv_error_set_os(UDFENV_ERROR, "cannot read the cache entry directory '%s'", path);
	}
	while ((de = readdir(d)) != NULL && error == 0) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		*bytes += (uint64_t)st.st_blocks * 512;
		(*files)++;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			udfenv_buf_clear(&sub_path);
			if ((error = udfenv_path_join(&sub_path, path, de->d_name)) < 0)
				close(sub);
			else
				error = udfenv_cache__du(sub, sub_path.ptr, bytes, files);
		}
	}
	closedir(d);
	udfenv_buf_dispose(&sub_path);
	return error;
}

/* Name the full disk, when that is why a build failed. */
static int explain_build_failure(udfenv_cache *c, const udfenv_cache_request *r, int error, int tmpfd)
{
	struct statvfs vfs;
	const char *msg = udfenv_error_last()->message;
	char *copy;
	int err = udfenv_error_os_errno();
	/*
	 * The errno says it when it came through; free space is the fallback for
	 * a failure known only by its words (pip's output, say).
	 */
	int full = err == ENOSPC || err == EDQUOT ||
		   (tmpfd >= 0 && fstatvfs(tmpfd, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20));

	if (!full || (copy = strdup(msg)) == NULL)
		return error;
	error = udfenv_error_set(error,
				 "%s; the node cache '%s' is on a full filesystem (building %s '%s'): "
				 "free space there, shrink the cache (udfenv cache gc --max-size SIZE), "
				 "or move it (udfenv.cache.dir)",
				 copy, c->dir.ptr, r->kind, r->name);
	udfenv_error_set_os_errno(err);
	free(copy);
	return error;
}

char *udfenv_cache__printable(const char *s)
{
	size_t len = strlen(s);
	char *out = strdup(s);

	/* The same UTF-8 as jansson's json_string() takes. */
	if (out && !udfenv_text_utf8_valid(out, len))
		for (char *p = out; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	return out;
}

/* The completion marker, `path`. */
static int write_marker(const char *path, const udfenv_cache_request *r, json_t *extra, uint64_t size,
			uint64_t files, double seconds)
{
	char *name = udfenv_cache__printable(r->name), *info = udfenv_cache__printable(r->info ? r->info : "");
	json_t *m = name && info ? json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:O}",
					     "udfenv_cache_entry", 1, "key", r->key, "kind", r->kind, "name",
					     name, "info", info, "size", (json_int_t)size, "files",
					     (json_int_t)files, "created", udfenv_wall_now(), "build_seconds",
					     seconds, "extra", extra)
				 : NULL;
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	udfenv_buf line = UDFENV_BUF_INIT;
	int error;

	if (text == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	else if ((error = udfenv_buf_printf(&line, "%s\n", text)) == 0 &&
		 (error = udfenv_fs_write_new(path, line.ptr, line.size, 0644)) < 0)
		udfenv_error_prefix("the completion marker of %s '%s': ", r->kind, r->name);
	udfenv_buf_dispose(&line);
	free(text);
	free(name);
	free(info);
	json_decref(m);
	return error;
}

/* Build entry r->key (build lock held) and publish it. */
static int build(udfenv_cache *c, const udfenv_cache_request *r)
{
	udfenv_buf tmp = UDFENV_BUF_INIT, parent = UDFENV_BUF_INIT, data = UDFENV_BUF_INIT,
		   scratch = UDFENV_BUF_INIT, prefix = UDFENV_BUF_INIT, rel = UDFENV_BUF_INIT,
		   marker = UDFENV_BUF_INIT;
	char dst[NAME_MAX + 16];
	json_t *extra = json_object();
	uint64_t bytes = 0, files = 0;
	double t0 = udfenv_now();
	int tmpfd = -1, sub, error;

	snprintf(dst, sizeof(dst), "entries/%s", r->key);
	udfenv_cache__each_name(c, "tmp", reclaim_interrupted, (void *)r->key);
	udfenv_error_clear();
	if (faccessat(c->fd, dst, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Published without a marker: not trusted, rebuilt. */
		udfenv_log(UDFENV_LOG_WARN, "cache: entry %s has no completion marker; rebuilding it", r->key);
		if ((error = udfenv_cache__discard(c, dst, "broken-")) < 0)
			goto done;
	}
	if (extra == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = udfenv_buf_printf(&parent, "%s/tmp", c->root.ptr)) < 0 ||
	    (error = udfenv_buf_printf(&prefix, "%s.", r->key)) < 0 ||
	    (error = udfenv_fs_mkdtemp(&tmp, parent.ptr, prefix.ptr)) < 0) {
		error = explain_build_failure(c, r, error, -1);
		goto done;
	}
	if ((tmpfd = open(tmp.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot open '%s'", tmp.ptr);
		goto fail;
	}
	if ((error = udfenv_buf_printf(&data, "%s/data", tmp.ptr)) < 0 ||
	    (error = udfenv_buf_printf(&scratch, "%s/scratch", tmp.ptr)) < 0 ||
	    (error = udfenv_buf_printf(&marker, "%s/" UDFENV_CACHE_MARKER, tmp.ptr)) < 0)
		goto fail;
	if (mkdir(scratch.ptr, 0700) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot create '%s'", scratch.ptr);
		goto fail;
	}
	if ((error = r->build(r->ctx, data.ptr, scratch.ptr, extra)) < 0 ||
	    (error = udfenv_fs_rmtree(scratch.ptr)) < 0)
		goto fail;
	if ((sub = openat(tmpfd, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "building %s '%s' made no '%s'", r->kind, r->name,
					    data.ptr);
		goto fail;
	}
	if ((error = udfenv_cache__du(sub, data.ptr, &bytes, &files)) < 0 ||
	    (error = write_marker(marker.ptr, r, extra, bytes, files, udfenv_now() - t0)) < 0)
		goto fail;
	/* Durable before visible: a crash after the rename must not expose lost writes. */
	if (syncfs(tmpfd) < 0) {
		error = udfenv_error_set_os(UDFENV_ERROR, "cannot flush '%s' to disk", tmp.ptr);
		goto fail;
	}
	if ((error = udfenv_buf_printf(&rel, "tmp/%s", tmp.ptr + parent.size + 1)) < 0)
		goto fail;
	if (renameat2(c->fd, rel.ptr, c->fd, dst, RENAME_NOREPLACE) < 0 &&
	    !(errno == EINVAL && faccessat(c->fd, dst, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	      renameat(c->fd, rel.ptr, c->fd, dst) == 0)) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot publish '%s' as '%s/%s'", tmp.ptr,
						    c->root.ptr, dst);
			goto fail;
		}
		/* Another builder won (possible only across a GC'd lock file): theirs is as good. */
		udfenv_fs_rmtree_quiet(tmp.ptr);
	}
	udfenv_log(UDFENV_LOG_DEBUG, "cache: built %s '%s' (%s): %llu files, %llu bytes in %.3f s", r->kind,
		   r->name, r->key, (unsigned long long)files, (unsigned long long)bytes, udfenv_now() - t0);
	goto done;
fail:
	error = explain_build_failure(c, r, error, tmpfd);
	udfenv_fs_rmtree_quiet(tmp.ptr);
done:
	if (tmpfd >= 0)
		close(tmpfd);
	json_decref(extra);
	udfenv_buf_dispose(&tmp);
	udfenv_buf_dispose(&parent);
	udfenv_buf_dispose(&data);
	udfenv_buf_dispose(&scratch);
	udfenv_buf_dispose(&prefix);
	udfenv_buf_dispose(&rel);
	udfenv_buf_dispose(&marker);
	return error;
}

/* Fill `out` from the marker `m` (consumed). */
static int take(udfenv_cache *c, const udfenv_cache_request *r, json_t *m, udfenv_cache_lease *out)
{
	json_t *extra = json_object_get(m, "extra");
	int error;

	out->extra = json_is_object(extra) ? json_incref(extra) : json_object();
	json_decref(m);
	if ((error = udfenv_buf_printf(&out->data, "%s/entries/%s/data", c->root.ptr, r->key)) < 0)
		return error;
	/* The lease file's mtime is the entry's last use, for LRU. */
	futimens(out->fd, NULL);
	return 0;
}

int udfenv_cache__acquire(udfenv_cache *c, const udfenv_cache_request *r, udfenv_cache_lease *out)
{
	char build_name[NAME_MAX];
	double t0 = udfenv_now();
	json_t *m;
	int bfd = -1, error;

	udfenv_cache__release(out);
	snprintf(build_name, sizeof(build_name), "%s.build", r->key);
	if ((error = udfenv_cache__lock(c, r->key, LOCK_SH, r->cancel, &out->fd)) < 0)
		goto done;
	out->outcome = UDFENV_CACHE_HIT;
	if ((m = udfenv_cache__marker(c, r->key)) != NULL)
		goto found;
	/* Missing: build it, or wait for whoever is building it. */
	if ((error = udfenv_cache__lock(c, build_name, LOCK_EX | LOCK_NB, r->cancel, &bfd)) < 0)
		goto done;
	if (error == 1) {
		udfenv_log(UDFENV_LOG_DEBUG, "cache: waiting for another process to build %s '%s'", r->kind,
			   r->name);
		out->outcome = UDFENV_CACHE_WAITED;
		if ((error = udfenv_cache__lock(c, build_name, LOCK_EX, r->cancel, &bfd)) < 0)
			goto done;
	}
	if ((m = udfenv_cache__marker(c, r->key)) == NULL) {
		out->outcome = UDFENV_CACHE_BUILT;
		if ((error = build(c, r)) < 0)
			goto done;
		if ((m = udfenv_cache__marker(c, r->key)) == NULL) {
			error = udfenv_error_set(UDFENV_ERROR, "the cache entry %s of %s '%s' vanished right "
							       "after it was built", r->key, r->kind, r->name);
			goto done;
		}
	}
found:
	error = take(c, r, m, out);
done:
	if (bfd >= 0)
		close(bfd);
	out->seconds = udfenv_now() - t0;
	if (error < 0)
		udfenv_cache__release(out);
	return error;
}

void udfenv_cache__release(udfenv_cache_lease *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	json_decref(l->extra);
	l->extra = NULL;
	udfenv_buf_dispose(&l->data);
}

/* A remembered record's cap (an interpreter's details with its ~1000 wheel tags: ~40 KiB). */
#define REMEMBER_MAX (1u << 20)

/* <kind>/<h>, h = sha256 of `path` (its lock: locks/<kind>-<h>.memo). */
static void record_name(const char *kind, const char *path, char *out, size_t size)
{
	char h[UDFENV_SHA256_HEX];
	udfenv_cache__key(path, h);
	snprintf(out, size, "%s/%s", kind, h);
}

int udfenv_cache__lock_record(udfenv_cache *c, const char *kind, const char *path,
			      const volatile int *cancel, int *fd)
{
	char h[UDFENV_SHA256_HEX], name[128];

	udfenv_cache__key(path, h);
	snprintf(name, sizeof(name), "%s-%s.memo", kind, h);
	return udfenv_cache__lock(c, name, LOCK_EX, cancel, fd);
}

int udfenv_cache__recall(udfenv_cache *c, const char *kind, const char *path, const char *sig,
			 udfenv_buf *out)
{
	char name[128];
	udfenv_buf text = UDFENV_BUF_INIT;
	size_t plen = strlen(path), slen = strlen(sig);
	int ok;

	record_name(kind, path, name, sizeof(name));
	/* "<path>\n<sig>\n<value>\n": the path guards against a (theoretical) name clash. */
	ok = read_small(c, name, &text, REMEMBER_MAX) && text.size > plen + slen + 2 &&
	     strncmp(text.ptr, path, plen) == 0 && text.ptr[plen] == '\n' &&
	     strncmp(text.ptr + plen + 1, sig, slen) == 0 && text.ptr[plen + 1 + slen] == '\n' &&
	     text.ptr[text.size - 1] == '\n';
	if (ok) {
		udfenv_buf_clear(out);
		ok = udfenv_buf_put(out, text.ptr + plen + slen + 2, text.size - plen - slen - 3) == 0;
	}
	udfenv_buf_dispose(&text);
	return ok;
}

void udfenv_cache__remember(udfenv_cache *c, const char *kind, const char *path, const char *sig,
			    const char *value)
{
	char name[128];
	udfenv_buf text = UDFENV_BUF_INIT, file = UDFENV_BUF_INIT;
	int ok;

	record_name(kind, path, name, sizeof(name));
	/* No fsync: a record lost in a crash is only a digest computed once more. */
	ok = udfenv_buf_printf(&text, "%s\n%s\n%s\n", path, sig, value) == 0 && text.size <= REMEMBER_MAX &&
	     udfenv_buf_printf(&file, "%s/%s", c->root.ptr, name) == 0 &&
	     udfenv_fs_write_replace(file.ptr, text.ptr, text.size, 0644) == 0;
	if (!ok)
		udfenv_log(UDFENV_LOG_DEBUG, "cache: could not remember %s of '%s'", kind, path);
	udfenv_error_clear();
	udfenv_buf_dispose(&text);
	udfenv_buf_dispose(&file);
}

static void work_name(const char *dir, char *out, size_t size)
{
	record_name("work", dir, out, size);
}

int udfenv_cache__register_work(udfenv_cache *c, const char *dir)
{
	char name[128];

	work_name(dir, name, sizeof(name));
	if (symlinkat(dir, c->fd, name) < 0)
		return udfenv_error_set_os(UDFENV_ERROR, "cannot register '%s' in the cache '%s'", dir,
					   c->dir.ptr);
	return 0;
}

void udfenv_cache__unregister_work(udfenv_cache *c, const char *dir)
{
	char name[128];

	work_name(dir, name, sizeof(name));
	unlinkat(c->fd, name, 0);
}
