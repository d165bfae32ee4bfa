/* udfenv cache: list, shrink or empty the node cache (docs/cache.md). */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
	"usage: udfenv cache [options] ls [--json]\n"
	"       udfenv cache [options] gc [--max-size SIZE]\n"
	"       udfenv cache [options] clear\n"
	"\n"
	"The node cache holds what environments are built from, once per node:\n"
	"extracted archives, python files, installed requirement sets (docs/cache.md).\n"
	"Entries in use by a running worker are leased and never removed.\n"
	"\n"
	"  ls      every entry: kind, size, last use, whether it is leased, what it was\n"
	"          built from; least recently used first (--json: a JSON list)\n"
	"  gc      remove least recently used entries until the cache holds at most\n"
	"          SIZE (default: udfenv.cache.max-size, else 10G; 500M, 2G, 0 ...),\n"
	"          and what crashed processes left (unfinished builds, private dirs)\n"
	"  clear   remove every entry that is not leased, and the remembered digests\n"
	"\n"
	"options:\n"
	"  --cache-dir DIR   the cache [udfenv.cache.dir]; default $UDFENV_CACHE_DIR,\n"
	"                    else $XDG_CACHE_HOME/udfenv, else ~/.cache/udfenv\n"
	"  --config FILE     read config keys (udfenv.cache.*) from FILE\n"
	"  -D key=value      set a config key\n"
	"  -v, --verbose     say what is removed\n"
	"  -h, --help        this text\n"
	"\n"
	"exit status: 0 done, 1 failed, 2 bad usage.\n";

/* "12.3 MiB" */
static void human_size(char *out, size_t len, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* "5 min ago" */
static void human_age(char *out, size_t len, double when)
{
	double age = (double)time(NULL) - when;

	if (when <= 0)
		snprintf(out, len, "never");
	else if (age < 60)
		snprintf(out, len, "%.0f s ago", age < 0 ? 0 : age);
	else if (age < 3600)
		snprintf(out, len, "%.0f min ago", age / 60);
	else if (age < 86400 * 2)
		snprintf(out, len, "%.0f h ago", age / 3600);
	else
		snprintf(out, len, "%.0f days ago", age / 86400);
}

static void json_string_out(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int list(udfenv_cache *c, int as_json)
{
	udfenv_cache_entry *e;
	size_t n;
	uint64_t total = 0;
	char size[32], age[32];

	if (udfenv_cache_list(c, &e, &n) < 0) {
		cli_error();
		return CLI_EXIT_FAILED;
	}
	if (as_json) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			printf("%s{\"key\": \"%s\", \"kind\": \"%s\", \"name\": ", i ? ",\n " : "", e[i].key,
			       e[i].kind);
			json_string_out(e[i].name);
			printf(", \"info\": ");
			json_string_out(e[i].info);
			printf(", \"size\": %llu, \"files\": %llu, \"created\": %.3f, \"last_used\": %.3f, "
			       "\"build_seconds\": %.3f, \"leased\": %s, \"complete\": %s}",
			       (unsigned long long)e[i].size, (unsigned long long)e[i].files, e[i].created,
			       e[i].last_used, e[i].build_seconds, e[i].leased ? "true" : "false",
			       e[i].complete ? "true" : "false");
		}
		printf("]\n");
	} else {
		printf("%-12s  %-12s  %10s  %-12s  %-6s  %s\n", "KEY", "KIND", "SIZE", "LAST USE", "LEASED",
		       "BUILT FROM");
		for (size_t i = 0; i < n; i++) {
			human_size(size, sizeof(size), e[i].size);
			human_age(age, sizeof(age), e[i].last_used);
			printf("%.12s  %-12s  %10s  %-12s  %-6s  %s%s%s%s\n", e[i].key, e[i].kind, size, age,
			       e[i].leased ? "yes" : "no", e[i].name, e[i].info[0] ? " (" : "", e[i].info,
			       e[i].info[0] ? ")" : "");
			total += e[i].size;
		}
		human_size(size, sizeof(size), total);
		printf("%zu entr%s, %s in %s\n", n, n == 1 ? "y" : "ies", size, udfenv_cache_dir(c));
	}
	udfenv_cache_list_free(e, n);
	return 0;
}

static void print_gc(const udfenv_cache_gc_report *r)
{
	char freed[32], left[32];

	human_size(freed, sizeof(freed), r->freed);
	human_size(left, sizeof(left), r->remaining);
	printf("removed %u entr%s (%s)", r->removed, r->removed == 1 ? "y" : "ies", freed);
	if (r->kept_leased)
		printf(", kept %u in use", r->kept_leased);
	if (r->reclaimed)
		printf(", cleaned up %u leftover%s of crashed processes", r->reclaimed,
		       r->reclaimed == 1 ? "" : "s");
	printf("; %u entr%s, %s left\n", r->entries_left, r->entries_left == 1 ? "y" : "ies", left);
}

int cmd_cache(int argc, char **argv)
{
	cli_deps d;
	udfenv_config *cfg = NULL;
	udfenv_deps *deps = NULL;
	udfenv_cache *c = NULL;
	udfenv_cache_gc_report r;
	const char *dir = NULL, *max_arg = NULL, *sub = NULL;
	uint64_t max_size = 0;
	int as_json = 0, status = CLI_EXIT_FAILED, rc;

	if (cli_deps_init(&d, "cache", argc, help) < 0)
		return CLI_EXIT_FAILED;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		/* -h, -v, --config, -D (and the dependency flags, refused below) */
		if ((rc = cli_deps_parse(&d, argc, argv, &i)) != 0) {
			if (rc < 0 || d.help_shown) {
				status = rc < 0 ? CLI_EXIT_USAGE : 0;
				goto done;
			}
		} else if (sub && strcmp(sub, "ls") == 0 && strcmp(a, "--json") == 0) {
			as_json = 1;
		} else if ((rc = cli_option(argc, argv, &i, "--cache-dir", &dir)) != 0 ||
			   (sub && strcmp(sub, "gc") == 0 &&
			    (rc = cli_option(argc, argv, &i, "--max-size", &max_arg)) != 0)) {
			if (rc < 0) {
				status = cli_usage_error("cache", "%s needs a value", a);
				goto done;
			}
		} else if (sub == NULL && a[0] != '-' &&
			   (strcmp(a, "ls") == 0 || strcmp(a, "gc") == 0 || strcmp(a, "clear") == 0)) {
			sub = a;
		} else {
			status = cli_usage_error("cache", sub ? "'%s' is not an option of 'cache %s'"
							      : "'%s' is not a subcommand (ls, gc, clear)",
						 a, sub);
			goto done;
		}
	}
	if (d.given) {
		status = cli_usage_error("cache", "dependency flags (-pyfs, -pyreq, ...) have no meaning here");
		goto done;
	}
	if (sub == NULL) {
		status = cli_usage_error("cache", "give a subcommand: ls, gc or clear");
		goto done;
	}
	cli_log_init(d.verbosity);
	if (cli_deps_resolve(&d, &cfg, &deps) < 0 ||
	    udfenv_cache_config(cfg, dir ? NULL : &dir, &max_size, NULL) < 0) {
		cli_error();
		status = CLI_EXIT_USAGE;
		goto done;
	}
	if (max_arg && udfenv_parse_size(max_arg, &max_size) < 0) {
		status = cli_usage_error("cache", "--max-size: %s", udfenv_error_last()->message);
		goto done;
	}
	/* udfenv.cache.max-size 0 means no bound (no automatic GC): then gc only cleans up. */
	if (max_arg == NULL && max_size == 0)
		max_size = UINT64_MAX;
	if (udfenv_cache_open(&c, dir) < 0) {
		cli_error();
		goto done;
	}
	if (strcmp(sub, "ls") == 0) {
		status = list(c, as_json);
	} else if ((strcmp(sub, "gc") == 0 ? udfenv_cache_gc(c, max_size, 1, &r) : udfenv_cache_clear(c, &r)) < 0) {
		cli_error();
	} else {
		print_gc(&r);
		status = 0;
	}
done:
	udfenv_cache_close(c);
	udfenv_config_free(cfg);
	udfenv_deps_free(deps);
	cli_deps_dispose(&d);
	return status;
}
