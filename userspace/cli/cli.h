/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cli.h - the subcommands of the kpulse binary and the helpers they share
 * for argument parsing, exit codes and stop signals.
 */
#ifndef KPULSE_CLI_H
#define KPULSE_CLI_H

#include <signal.h>
#include <stdbool.h>

/* The service's env file as `make install` writes it (SYSCONFDIR /etc) and
 * packaging/kpulse.service reads it; `kpulse user` reads it too, so it finds
 * the data dir the service uses. */
#define CLI_SYSTEM_ENV_FILE "/etc/kpulse/kpulse.env"

/* Exit statuses: 2 is a usage error, as getopt-style tools do. */
#define EXIT_USAGE 2

extern volatile sig_atomic_t cli_stop;

/* SIGINT / SIGTERM set cli_stop; nothing else happens in the handler. */
void cli_install_stop_signals(void);

/* Strict number parsing for flags: the whole string, finite, in range.
 * Print "kpulse CMD: --FLAG: 'VALUE' ..." and return -EINVAL otherwise. */
int cli_parse_seconds(const char *cmd, const char *flag, const char *s, double min, double max,
		      double *ret);
int cli_parse_uint(const char *cmd, const char *flag, const char *s, unsigned long min,
		   unsigned long max, unsigned long *ret);

/* One line explaining a failed probes/collector start; returns the exit
 * status to use. */
int cli_report_start_error(const char *cmd, int err);

int cmd_run(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_probes(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_forecast(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif /* KPULSE_CLI_H */
