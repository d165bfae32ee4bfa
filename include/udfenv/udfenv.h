/* udfenv: the whole public C API. */
#ifndef UDFENV_H
#define UDFENV_H

#include "udfenv/common.h"
#include "udfenv/cache.h"
#include "udfenv/config.h"
#include "udfenv/deps.h"
#include "udfenv/stage.h"
#include "udfenv/env.h"
#include "udfenv/run.h"
#include "udfenv/job.h"

#endif
