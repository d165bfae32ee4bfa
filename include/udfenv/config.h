/*
 * Configuration: string keys and values, from a config file (`key: value`
 * lines), `-D key=value` and the API. Keys under `python.` must be known
 * ones (a typo is an error, not a silent no-op); other keys are kept for the
 * parts that read them.
 */
#ifndef UDFENV_CONFIG_H
#define UDFENV_CONFIG_H

#include "udfenv/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct udfenv_config udfenv_config;

int udfenv_config_new(udfenv_config **out);
void udfenv_config_free(udfenv_config *cfg);

/* Set `key` (replacing an earlier value). UDFENV_EINVALID for a malformed or unknown python.* key. */
int udfenv_config_set(udfenv_config *cfg, const char *key, const char *value);

/* The value of `key`, or NULL when unset. Owned by `cfg`. */
const char *udfenv_config_get(const udfenv_config *cfg, const char *key);

/*
 * Read `key: value` lines from `path`: blank lines and lines starting with
 * '#' are skipped, a '#' after a space or tab starts a comment (as in YAML;
 * `a.zip#target` is a value), later lines override earlier ones, a value
 * may be quoted with '...' or "...". Errors name the file and line.
 */
int udfenv_config_load(udfenv_config *cfg, const char *path);

/* Apply one "key=value" (the CLI's -D). */
int udfenv_config_define(udfenv_config *cfg, const char *key_value);

/*
 * The temp root the config asks for: the first entry of io.tmp.dirs (a ','
 * or ':' list), malloc'd into *out; *out = NULL when the key is unset or
 * empty (then the library's default applies: $UDFENV_TMPDIR, $TMPDIR, /tmp).
 */
int udfenv_config_tmp_root(const udfenv_config *cfg, char **out);

/* Iterate: the i-th key and value (in first-set order); 0 past the end. */
int udfenv_config_entry(const udfenv_config *cfg, size_t i, const char **key, const char **value);

#ifdef __cplusplus
}
#endif
#endif
