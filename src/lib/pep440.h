/*
 * Python packaging's names and versions: PEP 503 project names, PEP 440
 * versions and specifier sets.
 */
#ifndef UDFENV_LIB_PEP440_H
#define UDFENV_LIB_PEP440_H

#include "util/buf.h"

#include <stddef.h>

/*
 * The PEP 503 normal form of the project name `name` (its first `len`
 * bytes): lowercase, each run of '-', '_' and '.' made one '-'. The name
 * must be a valid project name (PEP 508: ASCII letters and digits, with
 * '-', '_', '.' only between them), else UDFENV_EINVALID naming it. `out`
 * is cleared first.
 */
int udfenv_pep503_normalize(udfenv_buf *out, const char *name, size_t len);

#endif
