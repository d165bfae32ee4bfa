#include "udfenv/config.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_FILE_MAX (1u << 20)
#define CONFIG_KEY_MAX 256

struct udfenv_config {
	udfenv_strvec keys;
	udfenv_strvec values;
};

/* Keys of the namespaces udfenv owns: any other key there is a typo. */
static const char *const python_keys[] = {
	"python.files",      "python.requirements",      "python.archives",
	"python.executable", "python.client.executable", "python.pythonpath",
	"python.fn-execution.bundle.size", NULL,
};

static const char *const udfenv_keys[] = {
	"udfenv.cache.dir",        "udfenv.cache.max-size",  "udfenv.cache.copy-archives",
	"udfenv.slurm.staging-dir", "udfenv.slurm.nodes",     "udfenv.slurm.ntasks",
	"udfenv.slurm.partition",  "udfenv.slurm.time-limit", "udfenv.slurm.options",
	"udfenv.slurm.command",    NULL,
};

int udfenv_config_new(udfenv_config **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : udfenv_error_set(UDFENV_ENOMEM, "out of memory");
}

void udfenv_config_free(udfenv_config *cfg)
{
	if (cfg == NULL)
		return;
	udfenv_strvec_dispose(&cfg->keys);
	udfenv_strvec_dispose(&cfg->values);
	free(cfg);
}

/* UDFENV_EINVALID "config key '<key, shown escaped>' <problem>". */
static int bad_key(const char *key, const char *problem)
{
	char shown[UDFENV_TEXT_SHOW_SIZE];

	udfenv_text_show(shown, key);
	return udfenv_error_set(UDFENV_EINVALID, "config key '%s' %s", shown, problem);
}

static int check_key(const char *key)
{
	size_t i, len = strlen(key);

	if (len == 0 || len > CONFIG_KEY_MAX)
		return bad_key(key, "is empty or too long");
	for (i = 0; i < len; i++)
		if (!(isalnum((unsigned char)key[i]) || strchr("._-", key[i])))
			return bad_key(key, "has a character other than letters, digits, '.', '_' and '-'");
	const char *const *known = strncmp(key, "python.", 7) == 0   ? python_keys
				   : strncmp(key, "udfenv.", 7) == 0 ? udfenv_keys
								     : NULL;
	udfenv_buf list = UDFENV_BUF_INIT;
	int error;

	if (known == NULL)
		return 0;
	for (i = 0; known[i]; i++)
		if (strcmp(key, known[i]) == 0)
			return 0;
	for (i = 0; known[i]; i++)
		udfenv_buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
	error = udfenv_error_set(UDFENV_EINVALID, "unknown config key '%s' (%.6s keys: %s)", key, key,
				 udfenv_buf_cstr(&list));
	udfenv_buf_dispose(&list);
	return error;
}

int udfenv_config_set(udfenv_config *cfg, const char *key, const char *value)
{
	long at;
	char *copy;
	int error;

	if ((error = check_key(key)) < 0)
		return error;
	if (strchr(value, '\n') || strchr(value, '\r'))
		return udfenv_error_set(UDFENV_EINVALID, "the value of config key '%s' spans lines", key);
	if ((at = udfenv_strvec_find(&cfg->keys, key)) >= 0) {
		if ((copy = strdup(value)) == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		free(cfg->values.items[at]);
		cfg->values.items[at] = copy;
		return 0;
	}
	if ((error = udfenv_strvec_push(&cfg->keys, key)) < 0)
		return error;
	if ((error = udfenv_strvec_push(&cfg->values, value)) < 0) {
		free(cfg->keys.items[--cfg->keys.count]);
		cfg->keys.items[cfg->keys.count] = NULL;
	}
	return error;
}

const char *udfenv_config_get(const udfenv_config *cfg, const char *key)
{
	long at = udfenv_strvec_find(&cfg->keys, key);
	return at < 0 ? NULL : cfg->values.items[at];
}

int udfenv_config_entry(const udfenv_config *cfg, size_t i, const char **key, const char **value)
{
	if (i >= cfg->keys.count)
		return 0;
	*key = cfg->keys.items[i];
	*value = cfg->values.items[i];
	return 1;
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parse one line of a config file in place; *key NULL for a blank or comment line. */
static int parse_line(char *line, char **key, char **value)
{
	char *colon, *v;
	size_t vlen;

	*key = NULL;
	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	/* As in YAML, " #" starts a comment; "a.zip#target" does not. */
	for (char *c = line + 1; *c; c++)
		if (*c == '#' && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			line = trim(line);
			break;
		}
	if ((colon = strchr(line, ':')) == NULL)
		return UDFENV_EINVALID;
	*colon = '\0';
	*key = trim(line);
	v = trim(colon + 1);
	vlen = strlen(v);
	if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
		v[vlen - 1] = '\0';
		v++;
	}
	*value = v;
	return 0;
}

int udfenv_config_load(udfenv_config *cfg, const char *path)
{
	udfenv_buf text = UDFENV_BUF_INIT;
	char *line, *next, *key, *value;
	int error, lineno = 0;

	if ((error = udfenv_fs_read_file(&text, path, CONFIG_FILE_MAX)) < 0)
		goto done;
	if (memchr(text.ptr, '\0', text.size)) {
		error = udfenv_error_set(UDFENV_EINVALID, "config file '%s' contains a NUL byte", path);
		goto done;
	}
	for (line = text.ptr; line && *line; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (parse_line(line, &key, &value) < 0) {
			error = udfenv_error_set(UDFENV_EINVALID,
						 "%s:%d: expected 'key: value', found '%.80s'", path,
						 lineno, line);
			goto done;
		}
		if (key && (error = udfenv_config_set(cfg, key, value)) < 0) {
			udfenv_error_prefix("%s:%d: ", path, lineno);
			goto done;
		}
	}
done:
	udfenv_buf_dispose(&text);
	return error;
}

int udfenv_config_define(udfenv_config *cfg, const char *key_value)
{
	udfenv_buf key = UDFENV_BUF_INIT;
	const char *eq = strchr(key_value, '=');
	int error;

	if (eq == NULL) {
		char shown[UDFENV_TEXT_SHOW_SIZE];
		udfenv_text_show(shown, key_value);
		return udfenv_error_set(UDFENV_EINVALID, "-D '%s': expected key=value", shown);
	}
	if ((error = udfenv_buf_put(&key, key_value, (size_t)(eq - key_value))) == 0)
		error = udfenv_config_set(cfg, udfenv_buf_cstr(&key), eq + 1);
	udfenv_buf_dispose(&key);
	return error;
}

int udfenv_config_tmp_root(const udfenv_config *cfg, char **out)
{
	const char *dirs = cfg ? udfenv_config_get(cfg, "io.tmp.dirs") : NULL;
	size_t n = dirs ? strcspn(dirs, ",:") : 0;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((*out = strndup(dirs, n)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	return 0;
}
