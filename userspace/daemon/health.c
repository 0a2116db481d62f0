// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * health.c - the daemon's health series and store fault logging (see
 * health.h).
 */
#include <errno.h>

#include "collection/events.h"
#include "daemon/health.h"
#include "util/log.h"

static const struct {
	const char *name, *help;
} health_help[] = {
    {"kpulse_store_samples_written_total", "Samples committed to the database"},
    {"kpulse_store_samples_dropped_total",
     "Samples dropped because the store's buffer or series limit was full, or lost at stop"},
    {"kpulse_store_samples_rejected_total", "Samples refused by the store (value not finite)"},
    {"kpulse_store_samples_buffered", "Samples waiting to be written"},
    {"kpulse_store_events_written_total", "Events committed to the database"},
    {"kpulse_store_events_dropped_total", "Events dropped because the store's buffer was full"},
    {"kpulse_store_events_rejected_total", "Events the store refused as malformed"},
    {"kpulse_store_events_unstored_total",
     "Events not stored because their type was over KPULSE_EVENTS_STORE_RATE (they still "
     "reached the live stream and the incidents)"},
    {"kpulse_store_write_errors_total", "Failed flush attempts (retried)"},
    {"kpulse_store_write_latency_seconds", "Duration of the last committed flush"},
    {"kpulse_store_db_size_bytes", "Size of the database file and its write-ahead log"},
    {"kpulse_store_writable", "1 while the last flush succeeded, 0 while writes fail"},
    {"kpulse_store_tier_size_bytes", "Pages of a tier's table and index (raw, 1m, 1h)"},
    {"kpulse_store_tier_oldest_timestamp_seconds", "Oldest time a tier holds (0: empty)"},
    {"kpulse_store_budget_rows_deleted_total",
     "Rows dropped, oldest first, to keep the store within KPULSE_STORE_MAX_BYTES"},
    {"kpulse_store_open_chunk_bytes", "Memory of the series' open raw chunks"},
    {"kpulse_rounds_skipped_total",
     "Rounds not collected because the collection loop ran late (a stall of the daemon or the "
     "machine); the history has a gap there"},
    {"kpulse_sink_rounds_total", "Rounds a sink has finished"},
    {"kpulse_sink_rounds_dropped_total",
     "Rounds a sink missed because it fell behind its queue (the oldest are dropped)"},
    {"kpulse_sink_queue_rounds", "Rounds waiting for a sink"},
    {"kpulse_sink_busy_seconds_total", "Time a sink spent handling rounds"},
};

int health_describe(struct registry *r)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(health_help) / sizeof(health_help[0]); i++)
		err |= registry_describe(r, health_help[i].name, health_help[i].help);
	return err ? -ENOMEM : 0;
}

int health_add(struct registry *r, struct store *s, struct sink *const *sinks, size_t nsinks,
	       const struct health_counts *counts, const struct evquota *quota)
{
	struct store_stats st;
	int err = 0;

	store_get_stats(s, &st);
	err |= registry_set_counter(r, "kpulse_store_samples_written_total", NULL, 0,
				    st.samples_written);
	err |= registry_set_counter(r, "kpulse_store_samples_dropped_total", NULL, 0,
				    st.samples_dropped);
	err |= registry_set_counter(r, "kpulse_store_samples_rejected_total", NULL, 0,
				    st.samples_rejected);
	err |= registry_set_gauge(r, "kpulse_store_samples_buffered", NULL, 0, st.samples_buffered);
	err |= registry_set_counter(r, "kpulse_store_events_written_total", NULL, 0,
				    st.events_written);
	err |= registry_set_counter(r, "kpulse_store_events_dropped_total", NULL, 0,
				    st.events_dropped);
	err |= registry_set_counter(r, "kpulse_store_events_rejected_total", NULL, 0,
				    counts->events_rejected);
	err |=
	    registry_set_counter(r, "kpulse_rounds_skipped_total", NULL, 0, counts->rounds_skipped);
	for (unsigned t = 1; quota && t < KP_EV_TYPE_MAX; t++) {
		struct metric_label l = {"type", event_type_name(t)};

		err |= registry_set_counter(r, "kpulse_store_events_unstored_total", &l, 1,
					    evquota_unstored(quota, t));
	}
	err |= registry_set_counter(r, "kpulse_store_write_errors_total", NULL, 0, st.write_errors);
	err |= registry_set_gauge(r, "kpulse_store_write_latency_seconds", NULL, 0,
				  st.last_flush_latency_s);
	err |= registry_set_gauge(r, "kpulse_store_db_size_bytes", NULL, 0, st.db_size_bytes);
	err |= registry_set_gauge(r, "kpulse_store_writable", NULL, 0,
				  st.consecutive_failures == 0 ? 1 : 0);
	for (int t = 0; t < STORE_NTIERS; t++) {
		struct metric_label l = {"tier", store_tier_name((enum store_tier)t)};

		err |= registry_set_gauge(r, "kpulse_store_tier_size_bytes", &l, 1,
					  (double)st.tier_bytes[t]);
		err |= registry_set_gauge(r, "kpulse_store_tier_oldest_timestamp_seconds", &l, 1,
					  st.tier_oldest_ts[t]);
	}
	err |= registry_set_counter(r, "kpulse_store_budget_rows_deleted_total", NULL, 0,
				    st.budget_rows_deleted);
	err |= registry_set_gauge(r, "kpulse_store_open_chunk_bytes", NULL, 0, st.open_chunk_bytes);

	for (size_t i = 0; i < nsinks; i++) {
		struct metric_label l = {"sink", sink_name(sinks[i])};
		struct sink_stats ss;

		sink_get_stats(sinks[i], &ss);
		err |= registry_set_counter(r, "kpulse_sink_rounds_total", &l, 1, ss.rounds_done);
		err |= registry_set_counter(r, "kpulse_sink_rounds_dropped_total", &l, 1,
					    ss.rounds_dropped);
		err |= registry_set_gauge(r, "kpulse_sink_queue_rounds", &l, 1, ss.queued);
		err |= registry_set_counter(r, "kpulse_sink_busy_seconds_total", &l, 1, ss.busy_s);
	}
	return err ? -ENOMEM : 0;
}

void health_log_store(struct store *s, int *last_error)
{
	struct store_stats st;
	int now_error;

	store_get_stats(s, &st);
	now_error = st.consecutive_failures ? st.last_error : 0;
	if (now_error == *last_error)
		return;
	if (now_error)
		log_error("store: writes failing (%s); buffering %llu samples in memory",
			  st.last_error_text, (unsigned long long)st.samples_buffered);
	else
		log_info("store: writing again; nothing buffered was lost (%llu samples dropped "
			 "in all beyond the buffer bound)",
			 (unsigned long long)st.samples_dropped);
	*last_error = now_error;
}
