/*
 * The plan of a job (docs/protocol.md) and the config keys the executor
 * reads. The plan comes from the client, which is ours, but it is still
 * outside input: every field is checked, unknown keys are refused, and each
 * error names the field so that a client bug is found at once.
 */
#include "lib/job_int.h"
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* More columns than any real table has: a bound on what a plan may ask us to allocate. */
#define PLAN_MAX_COLUMNS 10000

int udfenv_job__show(udfenv_buf *out, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = len < max ? len : max;
	int error = udfenv_buf_putc(out, '"');

	for (i = 0; i < n && error == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[5] = {'\\', 0, 0, 0, 0};

		if (c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\\') {
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
			error = udfenv_buf_put(out, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			error = udfenv_buf_put(out, esc, 4);
		} else {
			error = udfenv_buf_putc(out, (char)c);
		}
	}
	if (error == 0)
		error = udfenv_buf_putc(out, '"');
	if (error == 0 && n < len)
		error = udfenv_buf_puts(out, "...");
	return error;
}

/* --- field helpers ------------------------------------------------------- */

static int field_error(const char *field, const char *what)
{
	return udfenv_error_set(UDFENV_EINVALID, "plan: %s: %s", field, what);
}

/* Refuse keys of `obj` not in `allowed` (NULL-terminated); `where` names obj ("" for the top). */
static int check_keys(json_t *obj, const char *where, const char *const *allowed)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value) {
		size_t i;
		udfenv_buf shown = UDFENV_BUF_INIT;
		int error;

		(void)value;
		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i])
			continue;
		if ((error = udfenv_job__show(&shown, key, strlen(key), 64)) == 0)
			error = udfenv_error_set(UDFENV_EINVALID, "plan: %s%sunknown key %s",
						 where, *where ? ": " : "", shown.ptr);
		udfenv_buf_dispose(&shown);
		return error;
	}
	return 0;
}

static int get_object(json_t *obj, const char *key, const char *field, json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out == NULL)
		return field_error(field, "missing");
	if (!json_is_object(*out))
		return field_error(field, "expected an object");
	return 0;
}

static int get_string(json_t *obj, const char *key, const char *field, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return field_error(field, "missing");
	if (!json_is_string(v))
		return field_error(field, "expected a string");
	*out = json_string_value(v);
	if (**out == '\0')
		return field_error(field, "is empty");
	return 0;
}

/* A format name: "csv" or "jsonl". */
static int get_format(json_t *obj, const char *field, rows_format *out)
{
	json_t *v = json_object_get(obj, "format");
	int f;

	if (v == NULL)
		return field_error(field, "missing");
	if (!json_is_string(v) || (f = rows_format_parse(json_string_value(v))) < 0)
		return field_error(field, "expected \"csv\" or \"jsonl\"");
	*out = (rows_format)f;
	return 0;
}

/* A schema: a non-empty list of [name, type] pairs. */
static int get_schema(json_t *obj, const char *key, const char *field, rows_schema *s, json_t **json)
{
	json_t *list = json_object_get(obj, key), *item;
	size_t i;
	int error;

	*json = list;
	if (list == NULL)
		return field_error(field, "missing");
	if (!json_is_array(list))
		return field_error(field, "expected a list of [name, type] pairs");
	if (json_array_size(list) == 0)
		return field_error(field, "has no columns");
	if (json_array_size(list) > PLAN_MAX_COLUMNS)
		return udfenv_error_set(UDFENV_ELIMIT, "plan: %s: more than %d columns", field,
					PLAN_MAX_COLUMNS);
	json_array_foreach(list, i, item) {
		json_t *name = json_array_get(item, 0), *type = json_array_get(item, 1);
		int t;

		if (!json_is_array(item) || json_array_size(item) != 2 || !json_is_string(name) ||
		    !json_is_string(type))
			return udfenv_error_set(UDFENV_EINVALID,
						"plan: %s[%zu]: expected a [name, type] pair of strings",
						field, i);
		if ((t = rows_type_parse(json_string_value(type))) < 0 || t == ROWS_NULL) {
			udfenv_buf shown = UDFENV_BUF_INIT;
			const char *ty = json_string_value(type);
			if ((error = udfenv_job__show(&shown, ty, strlen(ty), 64)) == 0)
				error = udfenv_error_set(UDFENV_EINVALID,
							 "plan: %s[%zu]: unknown type %s (expected "
							 "BIGINT, DOUBLE, STRING or BOOLEAN)",
							 field, i, shown.ptr);
			udfenv_buf_dispose(&shown);
			return error;
		}
		if ((error = rows_schema_add(s, json_string_value(name), (rows_type)t)) < 0)
			return udfenv_error_prefix("plan: %s[%zu]: ", field, i);
	}
	return 0;
}

/* --- the plan ------------------------------------------------------------ */

static int parse_version(json_t *root)
{
	json_t *v = json_object_get(root, "udfenv_plan");

	if (v == NULL)
		return field_error("udfenv_plan", "missing (is this a udfenv plan?)");
	if (!json_is_integer(v))
		return field_error("udfenv_plan", "expected the version number 1");
	if (json_integer_value(v) != JOB_PLAN_VERSION)
		return udfenv_error_set(UDFENV_EINVALID,
					"plan: udfenv_plan: version %lld is not supported (this "
					"executor reads version %d)",
					(long long)json_integer_value(v), JOB_PLAN_VERSION);
	return 0;
}

static int parse_source(job_plan *p, json_t *root)
{
	static const char *const keys[] = {"format", "path", "schema", NULL};
	json_t *src;
	int error;

	if ((error = get_object(root, "source", "source", &src)) < 0 ||
	    (error = check_keys(src, "source", keys)) < 0 ||
	    (error = get_format(src, "source.format", &p->source_format)) < 0 ||
	    (error = get_string(src, "path", "source.path", &p->source_path)) < 0)
		return error;
	return get_schema(src, "schema", "source.schema", &p->input, &p->input_json);
}

static int parse_sink(job_plan *p, json_t *root)
{
	static const char *const collect_keys[] = {"type", NULL};
	static const char *const keys[] = {"type", "format", "path", "overwrite", NULL};
	const char *type;
	json_t *sink, *ow;
	int error;

	if ((error = get_object(root, "sink", "sink", &sink)) < 0)
		return error;
	if (!json_is_string(json_object_get(sink, "type")))
		return field_error("sink.type", "expected \"collect\", \"file\" or \"directory\"");
	type = json_string_value(json_object_get(sink, "type"));
	if (strcmp(type, "collect") == 0) {
		p->sink_type = JOB_SINK_COLLECT;
		p->sink_format = ROWS_JSONL;
		return check_keys(sink, "sink (collect)", collect_keys);
	}
	if (strcmp(type, "file") == 0)
		p->sink_type = JOB_SINK_FILE;
	else if (strcmp(type, "directory") == 0)
		p->sink_type = JOB_SINK_DIRECTORY;
	else
		return field_error("sink.type", "expected \"collect\", \"file\" or \"directory\"");
	if ((error = check_keys(sink, "sink", keys)) < 0 ||
	    (error = get_format(sink, "sink.format", &p->sink_format)) < 0 ||
	    (error = get_string(sink, "path", "sink.path", &p->sink_path)) < 0)
		return error;
	ow = json_object_get(sink, "overwrite");
	if (ow != NULL && !json_is_boolean(ow))
		return field_error("sink.overwrite", "expected true or false");
	p->overwrite = ow != NULL && json_is_true(ow);
	return 0;
}

int udfenv_job__plan_parse(job_plan *p, const char *text, size_t len)
{
	static const char *const keys[] = {"udfenv_plan", "source", "output", "sink",
					   "runtime", "program", NULL};
	json_error_t jerr;
	int error;

	memset(p, 0, sizeof(*p));
	if (text == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "plan: none given");
	/* Duplicate keys would make "every field checked" a lie about which one counts. */
	p->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (p->root == NULL)
		return udfenv_error_set(UDFENV_EINVALID, "plan: not valid JSON: %s (line %d, column %d)",
					jerr.text, jerr.line, jerr.column);
	if (!json_is_object(p->root))
		return udfenv_error_set(UDFENV_EINVALID, "plan: expected a JSON object");
	if ((error = parse_version(p->root)) < 0 || (error = check_keys(p->root, "", keys)) < 0 ||
	    (error = parse_source(p, p->root)) < 0 ||
	    (error = get_schema(p->root, "output", "output", &p->output, &p->output_json)) < 0 ||
	    (error = parse_sink(p, p->root)) < 0 ||
	    (error = get_string(p->root, "runtime", "runtime", &p->runtime)) < 0)
		return error;
	/* Workers run in the environment's directory: a relative path would point elsewhere there. */
	if (p->runtime[0] != '/')
		return udfenv_error_set(UDFENV_EINVALID, "plan: runtime: expected an absolute path, got '%s'",
					p->runtime);
	p->program = json_object_get(p->root, "program");
	if (p->program == NULL)
		return field_error("program", "missing");
	if (!json_is_object(p->program))
		return field_error("program", "expected an object");
	return 0;
}

void udfenv_job__plan_dispose(job_plan *p)
{
	rows_schema_dispose(&p->input);
	rows_schema_dispose(&p->output);
	json_decref(p->root);
	memset(p, 0, sizeof(*p));
}

/* --- config -------------------------------------------------------------- */

/* A whole decimal number from `min` to `max`; `def` when the key is unset. */
int udfenv_job__config_number(const udfenv_config *cfg, const char *key, unsigned long min, unsigned long max,
			      unsigned long def, unsigned long *out)
{
	const char *v = cfg ? udfenv_config_get(cfg, key) : NULL;
	unsigned long n;
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	/* strtoul takes a sign and leading spaces: a "-1" would wrap to a huge count. */
	if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 || n < min || n > max)
		return udfenv_error_set(UDFENV_EINVALID,
					"config key '%s': expected a whole number from %lu to %lu, got '%.64s'",
					key, min, max, v);
	*out = n;
	return 0;
}

int udfenv_job__config(unsigned *workers, size_t *bundle, const udfenv_config *cfg)
{
	unsigned long w, b;
	int error;

	if ((error = udfenv_job__config_number(cfg, "parallelism.default", 1, JOB_MAX_WORKERS, 1, &w)) < 0 ||
	    (error = udfenv_job__config_number(cfg, "python.fn-execution.bundle.size", 1, JOB_MAX_BUNDLE,
				   JOB_DEFAULT_BUNDLE, &b)) < 0)
		return error;
	*workers = (unsigned)w;
	*bundle = (size_t)b;
	return 0;
}
