// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * multivar.c - Isolation Forest and LOF over a host's feature vectors:
 * window-mean history, the background trainer, model hand-over and
 * scoring (see multivar.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/features.h"
#include "models/lof.h"
#include "models/multivar.h"
#include "util/clock.h"
#include "util/error.h"

/* Histories longer than this many windows are refused (a week of minutes). */
#define BUCKETS_MAX 10080
/* Calibration: the empirical distribution of training scores up to this
 * quantile, an exponential tail beyond; and the probability a score of 1
 * stands for. */
#define TAIL_START  0.95
#define SCORE_FLOOR 1e-10
/* The smallest scale of a log-compressed feature (features_log), in log1p
 * units: a 45% rise of a level at its median, about 22% well above it.
 * Replays of a shared host's stored windows (issue 10): at 0.05 a pinned
 * CPU's drop to 25% still scored LOF 0.97, at 0.2 it scored 0.23 while
 * the fork storm beside it rose from 0.55 to 0.67. */
#define LOG_SCALE_MIN 0.2

struct model {
	struct features_log lg;
	struct features_scaler sc;
	struct iforest *forest;
	struct lof *lof;
	double *if_sorted, *lof_sorted; /* training scores, ascending */
	double if_tail[2], lof_tail[2]; /* fit_tail() of each */
	double if_ceiling;		/* iforest_score_ceiling() */
	size_t rows;
	double trained_at;
};

struct multivar {
	struct multivar_options o;
	size_t s, d, nb, rpw; /* series, features, buckets, rounds per window */
	char **names;
	multivar_history_fn load_history;
	void *ctx;

	/* caller thread only */
	struct features_stream *stream;
	struct model *current;
	double *vec, *z, *contrib_if, *contrib_lof;

	/* guarded by lock */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	double *bucket_means; /* nb x s */
	long long *bucket_id; /* per slot; -1 empty */
	double *acc_sum;      /* the bucket being filled */
	size_t *acc_n;
	long long cur_bucket; /* -1 before the first round */
	struct model *pending;
	bool stop, train_now;
	size_t attempts, trainings;
	double last_train_s;

	pthread_t thread;
	bool started;
};

static struct model *model_free(struct model *m)
{
	if (!m)
		return NULL;
	features_log_clear(&m->lg);
	features_scaler_clear(&m->sc);
	iforest_free(m->forest);
	lof_free(m->lof);
	free(m->if_sorted);
	free(m->lof_sorted);
	free(m);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Share of sorted[0..n) strictly below v. */
static double cdf(const double *sorted, size_t n, double v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n ? (double)lo / (double)n : 0;
}

/*
 * The probability that a training row scores at least v: empirical up to
 * the TAIL_START quantile, beyond it an exponential tail fitted to the
 * rows above (peaks over threshold: scale = their mean excess), so a
 * score far past anything in training gets a small probability instead
 * of 1 / n. sorted holds n >= 1 training scores, ascending.
 */
static double tail_probability(const double *sorted, size_t n, double v, const double *tail)
{
	double u = tail[0], beta = tail[1];

	if (v <= u || beta <= 0)
		return fmax(1.0 - cdf(sorted, n, v), 1.0 / (double)(n + 1));
	return (1.0 - TAIL_START) * exp(-(v - u) / beta);
}

/*
 * The forest's scores have a ceiling (a row isolated by the first split
 * of every tree), and its rows beyond the training range climb towards
 * it with their distance (iforest.h). Past the highest training score m,
 * the probability falls geometrically from 1 / (n + 1) at m to
 * SCORE_FLOOR at the ceiling, so how far a row has gone from the most
 * extreme training row towards total isolation is what it scores,
 * whatever the spread of a few training rows in the tail. The smaller of
 * this and tail_probability() counts.
 */
static double ceiling_probability(const double *sorted, size_t n, double v, double ceiling)
{
	double m = sorted[n - 1], f, p0 = 1.0 / (double)(n + 1);

	if (v <= m || ceiling <= m)
		return 1;
	f = fmin((v - m) / (ceiling - m), 1);
	return exp(log(p0) + f * (log(SCORE_FLOOR) - log(p0)));
}

/* Fits the tail of sorted[0..n): tail[0] the threshold, tail[1] the mean
 * excess of the scores above it (0 when none are). */
static void fit_tail(const double *sorted, size_t n, double *tail)
{
	size_t k = (size_t)floor(TAIL_START * (double)(n - 1));
	double sum = 0;
	size_t cnt = 0;

	tail[0] = sorted[k];
	for (size_t i = k + 1; i < n; i++) {
		if (sorted[i] > tail[0]) {
			sum += sorted[i] - tail[0];
			cnt++;
		}
	}
	tail[1] = cnt ? sum / (double)cnt : 0;
}

/* The ensemble's scale: log(p) / log(1e-10), so 0.5 is a one-in-100,000
 * round, as the streaming detectors' scores are. */
static double score_from_tail(double p)
{
	double s = log(p) / log(SCORE_FLOOR);

	return s < 0 ? 0 : s > 1 ? 1 : s;
}

/* ---------------------------------------------------------------------- */
/* Training (trainer thread)                                              */
/* ---------------------------------------------------------------------- */

static struct model *train(struct multivar *mv, const double *means, char *err, size_t errlen)
{
	size_t max_rows = mv->o.max_train_rows;
	double *rows = malloc(max_rows * mv->d * sizeof(double));
	struct model *m = calloc(1, sizeof(*m));
	double *min_width = NULL;
	size_t n;

	if (!rows || !m)
		goto fail;
	n = features_from_buckets(means, mv->nb, mv->s, rows, max_rows);
	if (n < MULTIVAR_TRAIN_MIN) {
		error_set(err, errlen, -EAGAIN, "%zu complete windows, %d needed", n,
			  MULTIVAR_TRAIN_MIN);
		goto fail;
	}
	if (features_log_fit(&m->lg, rows, n, mv->s) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		features_log_apply(&m->lg, rows + i * mv->d, rows + i * mv->d);
	if (features_scaler_fit(&m->sc, rows, n, mv->d) < 0)
		goto fail;
	/* a log-scale feature's unit is at least LOG_SCALE_MIN: a series
	 * held steady in training (CPU at 100%, a full disk's free space)
	 * does not put every later wobble at the clip */
	for (size_t k = 0; k < mv->d; k++)
		if (m->lg.unit[k / FEATURES_PER_SERIES] > 0)
			m->sc.scale[k] = fmax(m->sc.scale[k], LOG_SCALE_MIN);
	for (size_t i = 0; i < n; i++)
		features_scaler_apply(&m->sc, rows + i * mv->d, rows + i * mv->d);
	if (iforest_fit(rows, n, mv->d, &mv->o.forest, &m->forest, err, errlen) < 0 ||
	    lof_fit(rows, n, mv->d, mv->o.lof_neighbors, &m->lof, err, errlen) < 0)
		goto fail;
	/* Beyond its training range, the forest measures a step against the
	 * range's width; on the log scale that width is at least a doubling
	 * (ln 2 in scaled units), so a rate pinned in training (CPU held at
	 * 100%) that halves is not yet isolated at once, while a tenfold
	 * burst past anything seen is. */
	min_width = malloc(mv->d * sizeof(double));
	if (!min_width)
		goto fail;
	for (size_t k = 0; k < mv->d; k++)
		min_width[k] = m->lg.unit[k / FEATURES_PER_SERIES] > 0 ? M_LN2 / m->sc.scale[k] : 0;
	iforest_set_min_width(m->forest, min_width);
	m->if_sorted = malloc(n * sizeof(double));
	m->lof_sorted = malloc(n * sizeof(double));
	if (!m->if_sorted || !m->lof_sorted)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		m->if_sorted[i] = iforest_score(m->forest, rows + i * mv->d);
		m->lof_sorted[i] = lof_train_score(m->lof, i);
	}
	qsort(m->if_sorted, n, sizeof(double), cmp_double);
	qsort(m->lof_sorted, n, sizeof(double), cmp_double);
	fit_tail(m->if_sorted, n, m->if_tail);
	m->if_ceiling = iforest_score_ceiling(m->forest);
	fit_tail(m->lof_sorted, n, m->lof_tail);
	m->rows = n;
	m->trained_at = clock_wall_s();
	free(rows);
	free(min_width);
	return m;
fail:
	free(rows);
	free(min_width);
	model_free(m);
	return NULL;
}

/* Copies the buckets in time order (oldest first) into out; NaN where a
 * window has no mean. Called with the lock held. */
static void copy_buckets(struct multivar *mv, double *out)
{
	long long first = mv->cur_bucket - (long long)mv->nb;

	for (size_t k = 0; k < mv->nb; k++) {
		long long b = first + (long long)k;
		size_t slot =
		    (size_t)(((b % (long long)mv->nb) + (long long)mv->nb) % (long long)mv->nb);

		if (b >= 0 && mv->bucket_id[slot] == b)
			memcpy(out + k * mv->s, mv->bucket_means + slot * mv->s,
			       mv->s * sizeof(double));
		else
			for (size_t j = 0; j < mv->s; j++)
				out[k * mv->s + j] = NAN;
	}
}

/* Fills empty buckets from the store, once, at the first training after
 * the first round (which says where "now" is). Returns false when it could
 * not run yet. */
static bool load_history(struct multivar *mv, double *tmp)
{
	long long cur;
	double to;

	pthread_mutex_lock(&mv->lock);
	cur = mv->cur_bucket;
	pthread_mutex_unlock(&mv->lock);
	if (cur < 0)
		return false;
	if (!mv->load_history)
		return true;
	for (size_t i = 0; i < mv->nb * mv->s; i++)
		tmp[i] = NAN;
	to = (double)cur * mv->o.window_s;
	if (mv->load_history(mv->ctx, to - (double)mv->nb * mv->o.window_s, to, mv->o.window_s, tmp,
			     mv->nb, mv->s) < 0)
		return true;
	pthread_mutex_lock(&mv->lock);
	for (size_t k = 0; k < mv->nb; k++) {
		long long b = cur - (long long)mv->nb + (long long)k;
		size_t slot;
		bool complete = true;

		if (b < 0)
			continue;
		slot = (size_t)(b % (long long)mv->nb);
		for (size_t j = 0; j < mv->s; j++)
			complete = complete && isfinite(tmp[k * mv->s + j]);
		if (mv->bucket_id[slot] != b && complete) {
			memcpy(mv->bucket_means + slot * mv->s, tmp + k * mv->s,
			       mv->s * sizeof(double));
			mv->bucket_id[slot] = b;
		}
	}
	pthread_mutex_unlock(&mv->lock);
	return true;
}

static void *trainer_main(void *arg)
{
	struct multivar *mv = arg;
	double *means = malloc(mv->nb * mv->s * sizeof(double));
	/* the first training waits for multivar_retrain_now() or a period */
	double next = clock_mono_s() + mv->o.retrain_s;
	bool loaded = false;

	if (!means)
		return NULL;
	pthread_mutex_lock(&mv->lock);
	for (;;) {
		struct model *m, *old;
		double t0;
		char err[256];

		while (!mv->stop && !mv->train_now && clock_mono_s() < next) {
			struct timespec ts;
			double until = clock_wall_s() + (next - clock_mono_s());

			/* the condition variable waits on CLOCK_REALTIME */
			ts.tv_sec = (time_t)until;
			ts.tv_nsec = (long)((until - floor(until)) * 1e9);
			pthread_cond_timedwait(&mv->wake, &mv->lock, &ts);
		}
		if (mv->stop)
			break;
		mv->train_now = false;
		pthread_mutex_unlock(&mv->lock);
		if (!loaded)
			loaded = load_history(mv, means);
		pthread_mutex_lock(&mv->lock);
		copy_buckets(mv, means);
		pthread_mutex_unlock(&mv->lock);

		t0 = clock_mono_s();
		m = train(mv, means, err, sizeof(err));
		next = clock_mono_s() + mv->o.retrain_s;

		pthread_mutex_lock(&mv->lock);
		mv->attempts++;
		if (m) {
			old = mv->pending;
			mv->pending = m;
			mv->trainings++;
			mv->last_train_s = clock_mono_s() - t0;
			pthread_mutex_unlock(&mv->lock);
			model_free(old);
			pthread_mutex_lock(&mv->lock);
		}
	}
	pthread_mutex_unlock(&mv->lock);
	free(means);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                             */
/* ---------------------------------------------------------------------- */

struct multivar *multivar_stop(struct multivar *mv)
{
	if (!mv)
		return NULL;
	if (mv->started) {
		pthread_mutex_lock(&mv->lock);
		mv->stop = true;
		pthread_cond_signal(&mv->wake);
		pthread_mutex_unlock(&mv->lock);
		pthread_join(mv->thread, NULL);
	}
	for (size_t i = 0; mv->names && i < mv->s; i++)
		free(mv->names[i]);
	free(mv->names);
	features_stream_free(mv->stream);
	model_free(mv->current);
	model_free(mv->pending);
	free(mv->vec);
	free(mv->z);
	free(mv->contrib_if);
	free(mv->contrib_lof);
	free(mv->bucket_means);
	free(mv->bucket_id);
	free(mv->acc_sum);
	free(mv->acc_n);
	pthread_cond_destroy(&mv->wake);
	pthread_mutex_destroy(&mv->lock);
	free(mv);
	return NULL;
}

int multivar_start(const struct multivar_options *o, const char *const *names, size_t nseries,
		   multivar_history_fn load, void *ctx, struct multivar **ret, char *err,
		   size_t errlen)
{
	struct multivar *mv;
	double nb;
	int rc;

	if (!o || !names || nseries < 1 || nseries > FEATURES_SERIES_MAX)
		return error_set(err, errlen, -EINVAL, "multivar: %zu series is not 1..%d", nseries,
				 FEATURES_SERIES_MAX);
	if (!(o->interval_s > 0) || !(o->window_s >= o->interval_s) ||
	    o->window_s / o->interval_s > FEATURES_ROUNDS_MAX || !(o->retrain_s > 0))
		return error_set(err, errlen, -EINVAL,
				 "multivar: window %gs must be 1 to %d rounds of %gs", o->window_s,
				 FEATURES_ROUNDS_MAX, o->interval_s);
	nb = o->history_s / o->window_s;
	if (!(nb >= MULTIVAR_TRAIN_MIN + 1) || nb > BUCKETS_MAX)
		return error_set(err, errlen, -EINVAL,
				 "multivar: history %gs must hold %d to %d windows of %gs",
				 o->history_s, MULTIVAR_TRAIN_MIN + 1, BUCKETS_MAX, o->window_s);
	if (o->max_train_rows < MULTIVAR_TRAIN_MIN || o->max_train_rows > LOF_ROWS_MAX ||
	    o->lof_neighbors < 1 || o->lof_neighbors > LOF_NEIGHBORS_MAX)
		return error_set(err, errlen, -EINVAL,
				 "multivar: training rows %zu (%d..%d) or neighbours %zu out of "
				 "range",
				 o->max_train_rows, MULTIVAR_TRAIN_MIN, LOF_ROWS_MAX,
				 o->lof_neighbors);
	mv = calloc(1, sizeof(*mv));
	if (!mv)
		return error_set(err, errlen, -ENOMEM, "multivar: out of memory");
	pthread_mutex_init(&mv->lock, NULL);
	pthread_cond_init(&mv->wake, NULL);
	mv->o = *o;
	mv->s = nseries;
	mv->d = nseries * FEATURES_PER_SERIES;
	mv->nb = (size_t)nb;
	mv->rpw = (size_t)llround(o->window_s / o->interval_s);
	if (mv->rpw < 1)
		mv->rpw = 1;
	mv->load_history = load;
	mv->ctx = ctx;
	mv->cur_bucket = -1;
	mv->names = calloc(nseries, sizeof(*mv->names));
	mv->stream = features_stream_new(nseries, mv->rpw);
	mv->vec = malloc(mv->d * sizeof(double));
	mv->z = malloc(mv->d * sizeof(double));
	mv->contrib_if = malloc(mv->d * sizeof(double));
	mv->contrib_lof = malloc(mv->d * sizeof(double));
	mv->bucket_means = malloc(mv->nb * nseries * sizeof(double));
	mv->bucket_id = malloc(mv->nb * sizeof(long long));
	mv->acc_sum = calloc(nseries, sizeof(double));
	mv->acc_n = calloc(nseries, sizeof(size_t));
	if (!mv->names || !mv->stream || !mv->vec || !mv->z || !mv->contrib_if ||
	    !mv->contrib_lof || !mv->bucket_means || !mv->bucket_id || !mv->acc_sum || !mv->acc_n) {
		multivar_stop(mv);
		return error_set(err, errlen, -ENOMEM, "multivar: out of memory");
	}
	for (size_t k = 0; k < mv->nb; k++)
		mv->bucket_id[k] = -1;
	for (size_t i = 0; i < nseries; i++) {
		mv->names[i] = strdup(names[i] ? names[i] : "");
		if (!mv->names[i]) {
			multivar_stop(mv);
			return error_set(err, errlen, -ENOMEM, "multivar: out of memory");
		}
	}
	rc = pthread_create(&mv->thread, NULL, trainer_main, mv);
	if (rc) {
		multivar_stop(mv);
		return error_set(err, errlen, -rc, "multivar: cannot start the trainer thread");
	}
	mv->started = true;
	*ret = mv;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Rounds and scores (caller thread)                                      */
/* ---------------------------------------------------------------------- */

void multivar_observe(struct multivar *mv, double t, const double *values)
{
	long long b;

	if (!mv || !values || !isfinite(t) || t < 0)
		return;
	features_stream_push(mv->stream, values);
	b = (long long)floor(t / mv->o.window_s);
	pthread_mutex_lock(&mv->lock);
	if (b != mv->cur_bucket) {
		/* close the bucket being filled (complete only if every series
		 * had a value in it) */
		if (mv->cur_bucket >= 0 && b > mv->cur_bucket) {
			size_t slot = (size_t)(mv->cur_bucket % (long long)mv->nb);
			bool complete = true;

			for (size_t j = 0; j < mv->s; j++) {
				complete = complete && mv->acc_n[j] > 0;
				mv->bucket_means[slot * mv->s + j] =
				    mv->acc_n[j] ? mv->acc_sum[j] / (double)mv->acc_n[j] : NAN;
			}
			mv->bucket_id[slot] = complete ? mv->cur_bucket : -1;
		}
		memset(mv->acc_sum, 0, mv->s * sizeof(double));
		memset(mv->acc_n, 0, mv->s * sizeof(size_t));
		mv->cur_bucket = b;
	}
	for (size_t j = 0; j < mv->s; j++) {
		if (isfinite(values[j])) {
			mv->acc_sum[j] += values[j];
			mv->acc_n[j]++;
		}
	}
	pthread_mutex_unlock(&mv->lock);
}

/* Per-series shares from per-feature contributions, top first. */
static void top_series(const struct multivar *mv, const double *contrib,
		       struct multivar_detector_result *r)
{
	r->ntop = 0;
	for (size_t k = 0; k < MULTIVAR_TOP_SERIES; k++) {
		size_t best = mv->s;
		double best_share = 0;

		for (size_t j = 0; j < mv->s; j++) {
			double share = 0;
			bool taken = false;

			for (size_t f = 0; f < FEATURES_PER_SERIES; f++)
				share += contrib[j * FEATURES_PER_SERIES + f];
			for (size_t q = 0; q < r->ntop; q++)
				taken = taken || r->top[q] == j;
			if (!taken && share > best_share) {
				best_share = share;
				best = j;
			}
		}
		if (best == mv->s)
			break;
		r->top[r->ntop] = best;
		r->top_share[r->ntop] = best_share;
		r->ntop++;
	}
	for (size_t k = r->ntop; k < MULTIVAR_TOP_SERIES; k++) {
		r->top[k] = 0;
		r->top_share[k] = 0;
	}
}

int multivar_score(struct multivar *mv, struct multivar_result *ret)
{
	struct multivar_result r = {0};
	struct model *fresh, *m;

	pthread_mutex_lock(&mv->lock);
	fresh = mv->pending;
	mv->pending = NULL;
	pthread_mutex_unlock(&mv->lock);
	if (fresh) {
		model_free(mv->current);
		mv->current = fresh;
	}
	m = mv->current;
	if (m && features_stream_vector(mv->stream, mv->vec)) {
		features_log_apply(&m->lg, mv->vec, mv->vec);
		features_scaler_apply(&m->sc, mv->vec, mv->z);
		r.iforest.raw = iforest_score_explain(m->forest, mv->z, mv->contrib_if);
		r.lof.raw = lof_score(m->lof, mv->z, mv->contrib_lof);
		r.iforest.tail =
		    fmin(tail_probability(m->if_sorted, m->rows, r.iforest.raw, m->if_tail),
			 ceiling_probability(m->if_sorted, m->rows, r.iforest.raw, m->if_ceiling));
		r.lof.tail = tail_probability(m->lof_sorted, m->rows, r.lof.raw, m->lof_tail);
		r.iforest.score = score_from_tail(r.iforest.tail);
		r.lof.score = score_from_tail(r.lof.tail);
		top_series(mv, mv->contrib_if, &r.iforest);
		top_series(mv, mv->contrib_lof, &r.lof);
		r.model_trained_at = m->trained_at;
		r.model_rows = m->rows;
		r.valid = true;
	}
	*ret = r;
	return 0;
}

void multivar_retrain_now(struct multivar *mv)
{
	pthread_mutex_lock(&mv->lock);
	mv->train_now = true;
	pthread_cond_signal(&mv->wake);
	pthread_mutex_unlock(&mv->lock);
}

void multivar_training_stats(struct multivar *mv, size_t *ret_attempts, size_t *ret_trainings,
			     double *ret_last_s)
{
	pthread_mutex_lock(&mv->lock);
	if (ret_attempts)
		*ret_attempts = mv->attempts;
	if (ret_trainings)
		*ret_trainings = mv->trainings;
	if (ret_last_s)
		*ret_last_s = mv->last_train_s;
	pthread_mutex_unlock(&mv->lock);
}

const char *multivar_series_name(const struct multivar *mv, size_t i)
{
	return i < mv->s ? mv->names[i] : NULL;
}

size_t multivar_memory_bound(const struct multivar_options *o, size_t nseries)
{
	size_t d = nseries * FEATURES_PER_SERIES;
	size_t nb = (size_t)(o->history_s / o->window_s);
	size_t rpw = (size_t)llround(o->window_s / o->interval_s);
	size_t rows = o->max_train_rows < nb ? o->max_train_rows : nb;
	size_t psi = o->forest.sample_size < rows ? o->forest.sample_size : rows;
	/* the scaler (2 d), the forest's baseline, range and widths (4 d) */
	size_t model =
	    o->forest.trees * (2 * psi) * 24 + rows * (d + 3) * 8 + 2 * rows * 8 + 6 * d * 8;

	return nb * nseries * 8 * 2 /* buckets + the trainer's copy */ +
	       2 * (rpw ? rpw : 1) * nseries * 8 + o->max_train_rows * d * 8 +
	       rows * o->lof_neighbors * 8 /* LOF neighbours while fitting */ + 2 * model;
}
