/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * version.h - the one version of kpulse, shown by `kpulse version`, the
 * API's /status and /openapi.json, and the build-info metric. The build
 * may override it (-DKPULSE_VERSION=...), for instance from git describe.
 */
#ifndef KPULSE_UTIL_VERSION_H
#define KPULSE_UTIL_VERSION_H

#ifndef KPULSE_VERSION
#define KPULSE_VERSION "0.1.0"
#endif

#endif /* KPULSE_UTIL_VERSION_H */
