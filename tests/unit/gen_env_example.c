// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Writes .env.example from the option table: `make env-example`. The unit
 * test in test_config.c fails until the committed file matches. */
#include <stdio.h>

#include "util/config.h"

int main(void)
{
	return config_write_env_example(stdout) ? 1 : 0;
}
