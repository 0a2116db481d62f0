/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * daemon.h - `kpulse run` once its arguments are parsed: the start and stop
 * order, signals, reload, and the round.
 *
 * Start: data dir, store, probes and collector, auth and the API, then the
 * sinks (store, API; later models, alerts, exporters). Every interval the
 * collector fills the live registry, the daemon adds its own health series,
 * freezes the round once (daemon/round.h) and hands it to every sink
 * (daemon/sink.h). Stop (SIGTERM / SIGINT): collection ends, each sink
 * finishes the rounds it has queued, the store flushes, then everything
 * closes in the reverse order of its start. SIGHUP re-reads the
 * configuration and applies the options marked CONFIG_RELOADABLE; the
 * others are named in a warning and wait for a restart.
 */
#ifndef KPULSE_DAEMON_H
#define KPULSE_DAEMON_H

#include <stddef.h>

#include "util/config.h"

/* Loads the configuration again from the sources the daemon started with,
 * for SIGHUP. Returns 0, or a negative errno with one line in err. */
typedef int (*daemon_config_loader)(void *ctx, struct kpulse_config *ret, char *err, size_t errlen);

/*
 * Runs the daemon with cfg until SIGTERM or SIGINT. reload may be NULL
 * (SIGHUP then keeps the running configuration). Logs what happens and
 * returns the process exit status: 0 after a clean stop, 1 when start-up
 * failed or data was lost at stop, 2 for a configuration the daemon
 * refuses at start (such as a public address without metrics auth).
 */
int daemon_run(const struct kpulse_config *cfg, daemon_config_loader reload, void *reload_ctx);

#endif /* KPULSE_DAEMON_H */
