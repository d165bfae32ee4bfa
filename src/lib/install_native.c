/*
 * The native installer: a pinned requirements set from a directory of
 * wheels, without pip. Select every wheel first (tags, versions, markers,
 * Requires-Python, the closure of Requires-Dist), then install them all.
 * Anything it does not do the way pip would is declined with a reason, and
 * the caller hands the whole set to pip; a set pip would refuse too (a
 * missing dependency, a corrupt wheel, a hash mismatch) is an error here.
 */
#include "lib/install.h"
#include "lib/pep440.h"
#include "lib/pep508.h"
#include "lib/reqfile.h"
#include "lib/wheel.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wheels looked at in one cache dir: more is a hostile or mistaken dir. */
#define MAX_WHEELS 100000
/* Distributions in one install. */
#define MAX_DISTS 10000

typedef struct {
	char *dir;           /* the dir it is in: NULL for the cache dir, else a wheel built from an sdist */
	char *file;          /* the wheel's file name in that dir */
	udfenv_wheelname wn;
	udfenv_pep440_version version;
	long rank;           /* index of its best tag in the interpreter's list; -1: incompatible */
} candidate;

/* A project in the install: why it is wanted, and the wheel chosen for it. */
typedef struct {
	char *key;               /* PEP 503 name */
	char *name;              /* as first written (pip names the headers dir after it) */
	udfenv_strvec specs;     /* every specifier set it must satisfy, as text */
	udfenv_strvec needed_by; /* who asked for it, for messages ("requirements.txt line 3", "foo 1.0") */
	udfenv_strvec extras;    /* extras asked for */
	int deps_added;          /* its dependencies without an extra were added */
	int tried_sdist;         /* wheels were built from its sdist (or there was none) */
	size_t extras_seen;      /* how many of its extras had their dependencies added */
	const udfenv_reqline *line; /* the top-level line, or NULL for a dependency */
	/* The index of its wheel in resolver.cands, or -1: an index, since
	 * cands grows (wheels built from sdists) while projects are chosen. */
	long chosen;
	udfenv_wheel_metadata meta;
} dist;

typedef struct {
	const udfenv_native_request *r;
	udfenv_marker_env env;
	json_t *tags;             /* the interpreter's tags, best first */
	udfenv_pep440_version python;    /* python_full_version */
	candidate *cands;
	size_t ncands, acands;
	udfenv_strvec sdists;     /* file names of source distributions in the dir */
	dist *dists;
	size_t ndists, adists;
	udfenv_reqfile rf;
	udfenv_buf why;           /* the reason for declining */
} resolver;

#define CHOSEN(rs, d) (&(rs)->cands[(d)->chosen])

static void dist_dispose(dist *d)
{
	free(d->key);
	free(d->name);
	udfenv_strvec_dispose(&d->specs);
	udfenv_strvec_dispose(&d->needed_by);
	udfenv_strvec_dispose(&d->extras);
	udfenv_wheel_metadata_dispose(&d->meta);
}

static void resolver_dispose(resolver *rs)
{
	for (size_t i = 0; i < rs->ncands; i++) {
		free(rs->cands[i].dir);
		free(rs->cands[i].file);
		udfenv_wheelname_dispose(&rs->cands[i].wn);
		udfenv_version_dispose(&rs->cands[i].version);
	}
	free(rs->cands);
	for (size_t i = 0; i < rs->ndists; i++)
		dist_dispose(&rs->dists[i]);
	free(rs->dists);
	udfenv_strvec_dispose(&rs->sdists);
	udfenv_version_dispose(&rs->python);
	udfenv_reqfile_dispose(&rs->rf);
	udfenv_buf_dispose(&rs->why);
}

/* Decline the set: 1, with the reason kept for the caller. */
static int decline(resolver *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int decline(resolver *rs, const char *fmt, ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	udfenv_buf_clear(&rs->why);
	return udfenv_buf_puts(&rs->why, text) < 0 ? UDFENV_ENOMEM : 1;
}

/* --- the interpreter ------------------------------------------------------ */

static const char *marker_value(json_t *markers, const char *name)
{
	const char *v = json_string_value(json_object_get(markers, name));
	return v ? v : "";
}

static int load_interpreter(resolver *rs)
{
	json_t *d = rs->r->details, *m = json_object_get(d, "markers");

	if (json_object_get(d, "error"))
		return decline(rs, "the interpreter's install details are unknown (%s)",
			       json_string_value(json_object_get(d, "error")));
	rs->tags = json_object_get(d, "tags");
	if (!json_is_object(m) || !json_is_array(rs->tags) || !json_is_object(json_object_get(d, "scheme")))
		return decline(rs, "the interpreter's install details are incomplete");
	rs->env.os_name = marker_value(m, "os_name");
	rs->env.sys_platform = marker_value(m, "sys_platform");
	rs->env.platform_machine = marker_value(m, "platform_machine");
	rs->env.platform_python_implementation = marker_value(m, "platform_python_implementation");
	rs->env.platform_release = marker_value(m, "platform_release");
	rs->env.platform_system = marker_value(m, "platform_system");
	rs->env.platform_version = marker_value(m, "platform_version");
	rs->env.python_version = marker_value(m, "python_version");
	rs->env.python_full_version = marker_value(m, "python_full_version");
	rs->env.implementation_name = marker_value(m, "implementation_name");
	rs->env.implementation_version = marker_value(m, "implementation_version");
	if (udfenv_version_parse(&rs->python, rs->env.python_full_version) < 0) {
		udfenv_error_clear();
		return decline(rs, "the interpreter's version '%s' is not a PEP 440 version",
			       rs->env.python_full_version);
	}
	return 0;
}

/* Index of the best of the wheel's tags in the interpreter's list, or -1. */
static long tag_rank(const resolver *rs, const udfenv_wheelname *wn)
{
	size_t n = json_array_size(rs->tags);

	for (size_t i = 0; i < n; i++) {
		const char *t = json_string_value(json_array_get(rs->tags, i));
		if (t && udfenv_strvec_find(&wn->tags, t) >= 0)
			return (long)i;
	}
	return -1;
}

/* --- the wheel dir ---------------------------------------------------------- */

/* Path of candidate c's wheel. */
static int cand_path(udfenv_buf *out, const resolver *rs, const candidate *c)
{
	udfenv_buf_clear(out);
	return udfenv_path_join(out, c->dir ? c->dir : rs->r->wheel_dir, c->file);
}

/*
 * Add the wheels of `dir` (NULL: the cache dir, whose sdists are noted too)
 * to the candidates.
 */
static int scan_dir(resolver *rs, const char *dir)
{
	DIR *d = opendir(dir ? dir : rs->r->wheel_dir);
	struct dirent *de;
	int error = 0;

	if (d == NULL)
		return dir ? udfenv_error_set_os(UDFENV_ERROR, "cannot read the wheels built in '%s'", dir)
			   : udfenv_error_set_os(UDFENV_ERROR, "cannot read the cache dir '%s'",
						 rs->r->cache_name);
	while (error == 0 && (de = readdir(d)) != NULL) {
		candidate c = {NULL, NULL, UDFENV_WHEELNAME_INIT, UDFENV_VERSION_INIT, -1};

		if (de->d_name[0] == '.')
			continue;
		if (!udfenv_path_has_suffix(de->d_name, ".whl")) {
			if (!dir && udfenv_install__sdist_ext(de->d_name))
				error = udfenv_strvec_push(&rs->sdists, de->d_name);
			continue;
		}
		if (rs->ncands >= MAX_WHEELS) {
			error = udfenv_error_set(UDFENV_ELIMIT, "the cache dir '%s' holds more than %d wheels",
						 rs->r->cache_name, MAX_WHEELS);
			break;
		}
		/* pip skips what it cannot read as a wheel name or version; so do we. */
		if (udfenv_wheel__parse_filename(&c.wn, de->d_name) < 0 ||
		    udfenv_version_parse(&c.version, c.wn.version) < 0) {
			udfenv_log(UDFENV_LOG_DEBUG, "install: skipping '%s': %s", de->d_name,
				   udfenv_error_last()->message);
			udfenv_error_clear();
			udfenv_wheelname_dispose(&c.wn);
			udfenv_version_dispose(&c.version);
			continue;
		}
		c.rank = tag_rank(rs, &c.wn);
		if ((c.file = strdup(de->d_name)) == NULL || (dir && (c.dir = strdup(dir)) == NULL) ||
		    udfenv_array_reserve((void **)&rs->cands, &rs->acands, rs->ncands,
		                         sizeof(*rs->cands)) < 0) {
			free(c.file);
			free(c.dir);
			udfenv_wheelname_dispose(&c.wn);
			udfenv_version_dispose(&c.version);
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			break;
		}
		rs->cands[rs->ncands++] = c;
	}
	closedir(d);
	return error;
}

/* --- wanting projects -------------------------------------------------------- */

static dist *find_dist(resolver *rs, const char *key)
{
	for (size_t i = 0; i < rs->ndists; i++)
		if (strcmp(rs->dists[i].key, key) == 0)
			return &rs->dists[i];
	return NULL;
}

/* The -c constraints on d's project whose markers apply join its specifiers (as pip). */
static int add_constraints(resolver *rs, dist *d)
{
	udfenv_buf spec = UDFENV_BUF_INIT;
	int error = 0, applies;

	for (size_t i = 0; i < rs->rf.count && error == 0; i++) {
		udfenv_requirement req = UDFENV_REQUIREMENT_INIT;
		if (rs->rf.lines[i].constraint && udfenv_requirement_parse(&req, rs->rf.lines[i].text) == 0 &&
		    strcmp(req.key, d->key) == 0 &&
		    (req.marker == NULL || (udfenv_marker_eval(req.marker, &rs->env, NULL, &applies) == 0 &&
					    applies)) &&
		    (error = udfenv_specset_format(&spec, req.spec)) == 0)
			error = udfenv_strvec_push(&d->specs, udfenv_buf_cstr(&spec));
		udfenv_requirement_dispose(&req);
		udfenv_buf_clear(&spec);
	}
	udfenv_buf_dispose(&spec);
	if (error == 0)
		udfenv_error_clear(); /* a bad constraint line was reported by want_top_level */
	return error;
}

/*
 * Want `req` (already known to apply) for `who`. A project chosen before
 * must still satisfy it: otherwise only a resolver that backtracks could
 * find the set, and that is pip's job.
 */
static int want(resolver *rs, const udfenv_requirement *req, const char *who, const udfenv_reqline *line)
{
	udfenv_buf spec = UDFENV_BUF_INIT;
	dist *d = find_dist(rs, req->key);
	int error;

	if ((error = udfenv_specset_format(&spec, req->spec)) < 0)
		goto done;
	if (d == NULL) {
		if (rs->ndists >= MAX_DISTS) {
			error = udfenv_error_set(UDFENV_ELIMIT, "more than %d distributions to install", MAX_DISTS);
			goto done;
		}
		if ((error = udfenv_array_reserve((void **)&rs->dists, &rs->adists, rs->ndists,
		                                  sizeof(*rs->dists))) < 0)
			goto done;
		d = &rs->dists[rs->ndists];
		memset(d, 0, sizeof(*d));
		d->chosen = -1;
		d->meta = (udfenv_wheel_metadata)UDFENV_WHEEL_METADATA_INIT;
		if ((d->key = strdup(req->key)) == NULL || (d->name = strdup(req->name)) == NULL) {
			free(d->key);
			error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
			goto done;
		}
		rs->ndists++;
		if ((error = add_constraints(rs, d)) < 0)
			goto done;
	}
	if (line && !d->line)
		d->line = line;
	if (d->chosen >= 0 && !udfenv_specset_contains(req->spec, &CHOSEN(rs, d)->version, CHOSEN(rs, d)->wn.version,
						  rs->rf.pre)) {
		error = decline(rs, "%s needs '%s%s' but %s %s was chosen for %s: that takes a resolver",
				who, req->name, udfenv_buf_cstr(&spec), d->name, CHOSEN(rs, d)->wn.version,
				d->needed_by.items[0]);
		goto done;
	}
	if ((error = udfenv_strvec_push(&d->specs, udfenv_buf_cstr(&spec))) < 0 ||
	    (error = udfenv_strvec_push(&d->needed_by, who)) < 0)
		goto done;
	for (size_t i = 0; i < req->extras.count && error == 0; i++)
		if (udfenv_strvec_find(&d->extras, req->extras.items[i]) < 0)
			error = udfenv_strvec_push(&d->extras, req->extras.items[i]);
done:
	udfenv_buf_dispose(&spec);
	return error;
}

/* Whether `c` satisfies every specifier set `d` collected. */
static int satisfies(const resolver *rs, const dist *d, const candidate *c)
{
	for (size_t i = 0; i < d->specs.count; i++) {
		udfenv_specset *s = NULL;
		int ok = udfenv_specset_parse(&s, d->specs.items[i]) == 0 &&
			 udfenv_specset_contains(s, &c->version, c->wn.version, rs->rf.pre);
		udfenv_specset_free(s);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Better: higher version, then a better tag, then a higher build number. */
static int better(const candidate *a, const candidate *b)
{
	int v = udfenv_version_cmp(&a->version, &b->version);

	if (v != 0)
		return v > 0;
	if (a->rank != b->rank)
		return a->rank < b->rank;
	return a->wn.build && (!b->wn.build || atoi(a->wn.build) > atoi(b->wn.build));
}

/* Why nothing in the dir fits `d`: the versions there, the wheels for another Python. */
static int explain_missing(resolver *rs, const dist *d)
{
	udfenv_buf seen = UDFENV_BUF_INIT, who = UDFENV_BUF_INIT, spec = UDFENV_BUF_INIT;
	int error, n = 0;

	for (size_t i = 0; i < rs->ncands; i++)
		if (strcmp(rs->cands[i].wn.key, d->key) == 0 && n++ < 8)
			udfenv_buf_printf(&seen, "%s%s%s", n > 1 ? ", " : "", rs->cands[i].file,
					  rs->cands[i].rank < 0 ? " (for another Python or platform)" : "");
	for (size_t i = 0; i < d->specs.count; i++)
		if (d->specs.items[i][0])
			udfenv_buf_printf(&spec, "%s%s", spec.size ? "," : " ", d->specs.items[i]);
	for (size_t i = 0; i < d->needed_by.count; i++)
		udfenv_buf_printf(&who, "%s%s", i ? ", " : "", d->needed_by.items[i]);
	error = udfenv_error_set(UDFENV_EINSTALL,
				 "no wheel in the cache dir '%s' satisfies '%s%s' (needed by %s); %s%s",
				 rs->r->cache_name, d->name, udfenv_buf_cstr(&spec), udfenv_buf_cstr(&who),
				 n ? "it holds " : "it holds no wheel of that project", udfenv_buf_cstr(&seen));
	udfenv_buf_dispose(&seen);
	udfenv_buf_dispose(&who);
	udfenv_buf_dispose(&spec);
	return error;
}

/* The version part of the sdist file name `f` when its project is `key`, else NULL (malloc'd). */
static char *sdist_version(const char *f, const char *key)
{
	udfenv_buf n = UDFENV_BUF_INIT;
	size_t len = strlen(f) - udfenv_install__sdist_ext(f);
	char *v = NULL;

	/* Project names may hold '-': try each split, the version never does. */
	for (size_t i = 1; i < len && !v; i++)
		if (f[i] == '-' && udfenv_pep503_normalize(&n, f, i) == 0 && strcmp(n.ptr, key) == 0)
			v = strndup(f + i + 1, len - i - 1);
	udfenv_error_clear();
	udfenv_buf_dispose(&n);
	return v;
}

/* The sdist of d's project with the highest version its specifiers allow; NULL: none. */
static const char *best_sdist(const resolver *rs, const dist *d)
{
	udfenv_pep440_version best = UDFENV_VERSION_INIT;
	const char *found = NULL;

	for (size_t i = 0; i < rs->sdists.count; i++) {
		candidate c = {NULL, NULL, UDFENV_WHEELNAME_INIT, UDFENV_VERSION_INIT, 0};
		char *v = sdist_version(rs->sdists.items[i], d->key);

		c.wn.version = v;
		if (v && udfenv_version_parse(&c.version, v) == 0 && satisfies(rs, d, &c) &&
		    (!found || udfenv_version_cmp(&c.version, &best) > 0)) {
			udfenv_version_dispose(&best);
			best = c.version;
			c.version = (udfenv_pep440_version)UDFENV_VERSION_INIT;
			found = rs->sdists.items[i];
		}
		udfenv_error_clear();
		udfenv_version_dispose(&c.version);
		free(v);
	}
	udfenv_version_dispose(&best);
	return found;
}

/* Have the caller build wheels of d's best sdist and add them to the candidates. */
static int build_from_sdist(resolver *rs, dist *d, int *built)
{
	udfenv_buf path = UDFENV_BUF_INIT;
	char *dir = NULL;
	int error;
	const char *sd = best_sdist(rs, d);

	*built = 0;
	if (sd == NULL)
		return 0;
	if (rs->r->build_sdist == NULL)
		return decline(rs, "%s has only a source distribution in the cache dir (%s): pip builds it",
			       d->name, sd);
	if ((error = udfenv_path_join(&path, rs->r->wheel_dir, sd)) == 0 &&
	    (error = rs->r->build_sdist(rs->r->ctx, path.ptr, sd, &dir)) == 0 &&
	    (error = scan_dir(rs, dir)) == 0)
		*built = 1;
	free(dir);
	udfenv_buf_dispose(&path);
	return error;
}

/*
 * Choose the wheel of d: the best candidate that satisfies every specifier
 * and whose Requires-Python admits the interpreter.
 */
static int choose(resolver *rs, dist *d)
{
	candidate **order = NULL;
	size_t n = 0;
	int error = 0, built;

	if ((order = calloc(rs->ncands ? rs->ncands : 1, sizeof(*order))) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	for (size_t i = 0; i < rs->ncands; i++) {
		candidate *c = &rs->cands[i];
		if (c->rank >= 0 && strcmp(c->wn.key, d->key) == 0 && satisfies(rs, d, c))
			order[n++] = c;
	}
	/* Best first; n is small (one project's wheels). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && better(order[j], order[j - 1]); j--) {
			candidate *t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t i = 0; i < n && d->chosen < 0; i++) {
		udfenv_buf path = UDFENV_BUF_INIT;
		udfenv_specset *rp = NULL;

		if ((error = cand_path(&path, rs, order[i])) == 0)
			error = udfenv_wheel__read_metadata(&d->meta, path.ptr, order[i]->file);
		udfenv_buf_dispose(&path);
		if (error < 0)
			break;
		if (d->meta.requires_python && udfenv_specset_parse(&rp, d->meta.requires_python) == 0 &&
		    !udfenv_specset_contains(rp, &rs->python, rs->env.python_full_version, 1)) {
			udfenv_log(UDFENV_LOG_DEBUG, "install: skipping '%s': Requires-Python %s",
				   order[i]->file, d->meta.requires_python);
			udfenv_specset_free(rp);
			udfenv_wheel_metadata_dispose(&d->meta);
			continue;
		}
		udfenv_specset_free(rp);
		udfenv_error_clear(); /* an unreadable Requires-Python is ignored, as pip does */
		d->chosen = (long)(order[i] - rs->cands);
	}
	free(order);
	if (error < 0 || d->chosen >= 0)
		return error;
	/* No wheel fits: one built from the project's sdist may (built once per node, cached). */
	if (!d->tried_sdist) {
		d->tried_sdist = 1;
		if ((error = build_from_sdist(rs, d, &built)) != 0)
			return error;
		if (built)
			return choose(rs, d);
	}
	return explain_missing(rs, d);
}

/* Add the dependencies of d's wheel that apply for its extras not yet seen (and for none, the first time). */
static int add_dependencies(resolver *rs, size_t at)
{
	udfenv_buf who = UDFENV_BUF_INIT;
	int error = 0, first = !rs->dists[at].deps_added;

	if ((error = udfenv_buf_printf(&who, "%s %s", rs->dists[at].meta.name,
				       rs->dists[at].meta.version)) < 0)
		goto done;
	for (size_t i = 0; i < rs->dists[at].meta.requires_dist.count && error == 0; i++) {
		/* dists may move (realloc) under want(): index, never hold a pointer. */
		udfenv_requirement req = UDFENV_REQUIREMENT_INIT;
		const char *text = rs->dists[at].meta.requires_dist.items[i];
		int applies = 0, r = 0;

		if ((error = udfenv_requirement_parse(&req, text)) < 0) {
			udfenv_error_prefix("'%s' lists a bad Requires-Dist: ", CHOSEN(rs, &rs->dists[at])->file);
			break;
		}
		if (req.url) {
			error = decline(rs, "%s needs '%s' by URL", who.ptr, text);
		} else if (req.marker == NULL) {
			applies = first;
		} else {
			if (first)
				error = udfenv_marker_eval(req.marker, &rs->env, NULL, &applies);
			for (size_t e = rs->dists[at].extras_seen; !applies && error == 0 &&
								   e < rs->dists[at].extras.count; e++)
				if ((error = udfenv_marker_eval(req.marker, &rs->env,
								rs->dists[at].extras.items[e], &r)) == 0)
					applies = r;
		}
		if (error == 0 && applies)
			error = want(rs, &req, who.ptr, NULL);
		udfenv_requirement_dispose(&req);
	}
	if (error == 0) {
		rs->dists[at].deps_added = 1;
		rs->dists[at].extras_seen = rs->dists[at].extras.count;
	}
done:
	udfenv_buf_dispose(&who);
	return error;
}

/* Top-level lines: parse, apply markers, insist on pins. Constraints only narrow what others want. */
static int want_top_level(resolver *rs)
{
	int error = 0;

	for (size_t i = 0; i < rs->rf.count && error == 0; i++) {
		const udfenv_reqline *l = &rs->rf.lines[i];
		udfenv_requirement req = UDFENV_REQUIREMENT_INIT;
		udfenv_buf who = UDFENV_BUF_INIT;
		int applies = 1;

		if ((error = udfenv_requirement_parse(&req, l->text)) < 0) {
			udfenv_error_prefix("%s line %u: ", l->file, l->line);
			udfenv_requirement_dispose(&req);
			break;
		}
		if (req.marker && (error = udfenv_marker_eval(req.marker, &rs->env, NULL, &applies)) < 0)
			udfenv_error_prefix("%s line %u: ", l->file, l->line);
		else if (!applies)
			;
		else if (req.url)
			error = decline(rs, "%s line %u: '%s' is a URL requirement", l->file, l->line, req.name);
		else if (!l->constraint && !udfenv_specset_is_pin(req.spec))
			error = decline(rs, "%s line %u: '%s' is not pinned to one version (==)", l->file,
					l->line, l->text);
		else if (!l->constraint && (error = udfenv_buf_printf(&who, "%s line %u", l->file, l->line)) == 0)
			error = want(rs, &req, who.ptr, l);
		udfenv_requirement_dispose(&req);
		udfenv_buf_dispose(&who);
	}
	return error;
}

/* Choose every wanted project and follow its dependencies, until nothing new is wanted. */
static int resolve(resolver *rs)
{
	int error = 0, progress = 1;

	while (error == 0 && progress) {
		progress = 0;
		for (size_t i = 0; i < rs->ndists && error == 0; i++) {
			dist *d = &rs->dists[i];
			if (d->chosen < 0) {
				if ((error = choose(rs, d)) != 0)
					break;
				progress = 1;
			}
			if (!rs->dists[i].deps_added || rs->dists[i].extras_seen != rs->dists[i].extras.count) {
				error = add_dependencies(rs, i);
				progress = 1;
			}
		}
	}
	return error;
}

/* --- installing -------------------------------------------------------------- */

static int scheme_dir(udfenv_buf *out, const resolver *rs, const char *kind)
{
	const char *rel = json_string_value(json_object_get(json_object_get(rs->r->details, "scheme"), kind));

	if (rel == NULL || rel[0] == '/' || strstr(rel, ".."))
		return udfenv_error_set(UDFENV_EINSTALL, "the interpreter reports an unusable '%s' install dir",
					kind);
	udfenv_buf_clear(out);
	if (strcmp(rel, ".") == 0)
		return udfenv_buf_sets(out, rs->r->prefix);
	return udfenv_path_join(out, rs->r->prefix, rel);
}

/* pip's hash-checking mode: once one line has a hash, every distribution must be pinned with one. */
static int check_hash_mode(resolver *rs)
{
	int hashing = rs->rf.require_hashes;

	for (size_t i = 0; i < rs->rf.count; i++)
		hashing |= rs->rf.lines[i].hashes.count > 0;
	for (size_t i = 0; hashing && i < rs->ndists; i++)
		if (rs->dists[i].line == NULL || rs->dists[i].line->hashes.count == 0)
			return udfenv_error_set(UDFENV_EINSTALL,
						"hashes are required once any requirement has one (as pip's "
						"--require-hashes), but %s has none (needed by %s): add it with "
						"its --hash",
						rs->dists[i].name, rs->dists[i].needed_by.items[0]);
	return 0;
}

static int install_all(resolver *rs)
{
	udfenv_buf pure = UDFENV_BUF_INIT, plat = UDFENV_BUF_INIT, scripts = UDFENV_BUF_INIT,
		   data = UDFENV_BUF_INIT, include = UDFENV_BUF_INIT, headers = UDFENV_BUF_INIT,
		   path = UDFENV_BUF_INIT;
	int error;

	if ((error = scheme_dir(&pure, rs, "purelib")) < 0 || (error = scheme_dir(&plat, rs, "platlib")) < 0 ||
	    (error = scheme_dir(&scripts, rs, "scripts")) < 0 || (error = scheme_dir(&data, rs, "data")) < 0 ||
	    (error = scheme_dir(&include, rs, "headers")) < 0)
		goto done;
	for (size_t i = 0; i < rs->ndists && error == 0; i++) {
		const dist *d = &rs->dists[i];
		udfenv_wheel_scheme s = {pure.ptr, plat.ptr, scripts.ptr, data.ptr, NULL, rs->r->python};
		udfenv_wheel_install w = {NULL, CHOSEN(rs, d)->file, d->line ? &d->line->hashes : NULL,
					  d->line != NULL};

		/* pip names the headers' dir after the project as the requirement wrote it. */
		if ((error = udfenv_path_join(&headers, include.ptr, d->name)) < 0 ||
		    (error = cand_path(&path, rs, CHOSEN(rs, d))) < 0)
			break;
		s.headers = headers.ptr;
		w.path = path.ptr;
		error = udfenv_wheel__install(&w, &s);
	}
done:
	udfenv_buf_dispose(&pure);
	udfenv_buf_dispose(&plat);
	udfenv_buf_dispose(&scripts);
	udfenv_buf_dispose(&data);
	udfenv_buf_dispose(&include);
	udfenv_buf_dispose(&headers);
	udfenv_buf_dispose(&path);
	return error;
}

int udfenv_install__native(const udfenv_native_request *r, char **declined, size_t *installed)
{
	resolver rs;
	int error;

	memset(&rs, 0, sizeof(rs));
	rs.r = r;
	rs.rf = (udfenv_reqfile)UDFENV_REQFILE_INIT;
	rs.python = (udfenv_pep440_version)UDFENV_VERSION_INIT;
	*declined = NULL;
	*installed = 0;
	if ((error = udfenv_reqfile_parse(&rs.rf, r->requirements, r->req_name)) < 0)
		goto done;
	if (rs.rf.fallback) {
		error = decline(&rs, "%s", rs.rf.fallback);
		goto done;
	}
	if ((error = load_interpreter(&rs)) != 0 || (error = scan_dir(&rs, NULL)) != 0 ||
	    (error = want_top_level(&rs)) != 0 || (error = resolve(&rs)) != 0 ||
	    (error = check_hash_mode(&rs)) != 0)
		goto done;
	if ((error = install_all(&rs)) == 0)
		*installed = rs.ndists;
done:
	if (error == 1 && (*declined = udfenv_buf_detach(&rs.why)) == NULL)
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	resolver_dispose(&rs);
	return error;
}
