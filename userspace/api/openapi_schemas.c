// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * openapi_schemas.c - the request and response schemas of /openapi.json,
 * one row per route (method and path pattern as in routes.c), so clients
 * can be generated. Kept beside the route table rather than in it: the
 * table says what a route is, this what it carries. A route without a row
 * is documented with a bare object (tests/api/test_openapi.py fails on
 * one). Schemas are OpenAPI 3.0 JSON text, parsed once when the document
 * is built; tests validate live answers against them.
 */
#include <errno.h>
#include <string.h>

#include "api/api_internal.h"

#define NUM		"{\"type\":\"number\"}"
#define INT		"{\"type\":\"integer\"}"
#define STR		"{\"type\":\"string\"}"
#define BOOL		"{\"type\":\"boolean\"}"
#define NNUM		"{\"type\":\"number\",\"nullable\":true}"
#define NSTR		"{\"type\":\"string\",\"nullable\":true}"
#define LABELS		"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}"
#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"
#define ARR(item)	"{\"type\":\"array\",\"items\":" item "}"
#define ROLE		"{\"type\":\"string\",\"enum\":[\"viewer\",\"operator\",\"admin\"]}"

/* A series of a round (/api/v1/live, the stream): counters and gauges have
 * value, histograms count, sum and cumulative buckets [le, count]. */
#define METRIC                                                                                     \
	OBJ("\"name\":" STR ",\"labels\":" LABELS                                                  \
	    ",\"type\":{\"type\":\"string\",\"enum\":[\"counter\",\"gauge\",\"histogram\"]},"      \
	    "\"value\":" NUM ",\"count\":" NUM ",\"sum\":" NUM ",\"buckets\":" ARR(ARR(NUM)),      \
	    "\"name\",\"labels\",\"type\"")
#define EVENT                                                                                      \
	OBJ("\"type\":" STR ",\"timestamp\":" NUM ",\"pid\":" INT ",\"comm\":" STR,                \
	    "\"type\",\"timestamp\"")
#define ROUND                                                                                      \
	OBJ("\"timestamp\":" NNUM ",\"interval_s\":" NNUM                                          \
	    ",\"metrics\":" ARR(METRIC) ",\"events\":" ARR(EVENT),                                 \
	    "\"timestamp\",\"interval_s\",\"metrics\"")
#define SERIES_ID OBJ("\"name\":" STR ",\"labels\":" LABELS ",\"type\":" STR, "\"name\",\"labels\"")

static const struct {
	const char *method, *pattern;
	const char *request;  /* JSON schema of the body, or NULL for none */
	const char *response; /* JSON schema of the 2xx answer, or NULL for no body */
	const char *status;   /* the success status */
} schemas[] = {
    {"GET", "/healthz", NULL, OBJ("\"status\":" STR, "\"status\""), "200"},
    {"GET", "/readyz", NULL,
     OBJ("\"ready\":" BOOL ",\"checks\":" OBJ(
	     "\"round_collected\":" BOOL ",\"probes_attached\":" BOOL ",\"store_writable\":" BOOL,
	     "\"round_collected\",\"probes_attached\",\"store_writable\""),
	 "\"ready\",\"checks\""),
     "200"},
    {"GET", "/metrics", NULL, STR, "200"},
    {"GET", "/openapi.json", NULL, "{\"type\":\"object\"}", "200"},
    {"GET", "/docs", NULL, STR, "200"},
    {"GET", "/", NULL, STR, "200"},
    {"GET", "/ui/{file}", NULL, STR, "200"},
    {"GET", "/api/v1/status", NULL,
     OBJ("\"version\":" STR ",\"started_at\":" NUM ",\"uptime_s\":" NUM ",\"interval_s\":" NUM
	 ",\"rounds\":" OBJ(
	     "\"count\":" INT ",\"last_timestamp\":" NNUM ",\"series\":" INT,
	     "\"count\"") ",\"probes\":" OBJ("\"attached\":" INT ",\"total\":" INT,
					     "\"attached\",\"total\"") ",\"store\":" OBJ("\"writabl"
											 "e\":" BOOL
											 ",\"sample"
											 "s_"
											 "written\""
											 ":" INT
											 ",\"sample"
											 "s_"
											 "dropped\""
											 ":" INT
											 ",\"sample"
											 "s_"
											 "buffered"
											 "\":" INT
											 ",\"events"
											 "_written"
											 "\":" INT
											 ",\"write_"
											 "errors\""
											 ":" INT
											 ",\"db_"
											 "size_"
											 "bytes\""
											 ":" INT
											 ",\"last_"
											 "flush_"
											 "latency_"
											 "s\":" NNUM
											 ",\"last_"
											 "error\""
											 ":" NSTR,
											 "\"writabl"
											 "e\"") ","
												"\""
												"ap"
												"i"
												"\""
												":{"
												"\""
												"ty"
												"pe"
												"\""
												":"
												"\""
												"ob"
												"je"
												"ct"
												"\""
												"}",
	 "\"version\",\"uptime_s\",\"rounds\",\"probes\",\"store\""),
     "200"},
    {"GET", "/api/v1/live", NULL, ROUND, "200"},
    {"GET", "/api/v1/series", NULL, OBJ("\"series\":" ARR(SERIES_ID), "\"series\""), "200"},
    {"GET", "/api/v1/query_range", NULL,
     OBJ("\"tier\":" STR ",\"step\":" NUM ",\"series\":" ARR(
	     OBJ("\"name\":" STR ",\"labels\":" LABELS ",\"type\":" STR
		 ",\"points\":" ARR("{\"type\":\"array\",\"items\":{\"type\":\"number\","
				    "\"nullable\":true},\"minItems\":2,\"maxItems\":2}"),
		 "\"name\",\"labels\",\"points\"")),
	 "\"step\",\"series\""),
     "200"},
    {"GET", "/api/v1/events", NULL,
     OBJ("\"events\":" ARR(OBJ("\"id\":" INT ",\"timestamp\":" NUM ",\"type\":" STR ",\"pid\":" INT
			       ",\"comm\":" STR ",\"fields\":{\"type\":\"object\"}",
			       "\"id\",\"timestamp\",\"type\"")),
	 "\"events\""),
     "200"},
    {"GET", "/api/v1/forecast", NULL,
     OBJ("\"horizon_s\":" NUM ",\"step_s\":" NUM ",\"steps\":" INT ",\"series\":" ARR(
	     OBJ("\"name\":" STR ",\"labels\":" LABELS ",\"aggregation\":" STR ",\"model\":" STR
		 ",\"error\":" STR
		 ",\"points\":" ARR(OBJ("\"ts\":" NUM ",\"forecast\":" NUM ",\"lo80\":" NUM
					",\"hi80\":" NUM ",\"lo95\":" NUM ",\"hi95\":" NUM,
					"\"ts\",\"forecast\"")),
		 "\"name\",\"labels\",\"points\"")),
	 "\"horizon_s\",\"step_s\",\"series\""),
     "200"},
    {"GET", "/api/v1/predictions", NULL,
     OBJ("\"predictions\":" ARR(
	     OBJ("\"kind\":" STR ",\"series\":" STR ",\"labels\":" LABELS ",\"limit\":" NUM
		 ",\"current\":" NUM ",\"rate_per_s\":" NUM ",\"eta_s\":" NNUM ",\"eta_lo_s\":" NNUM
		 ",\"eta_hi_s\":" NNUM ",\"predicted_at\":" NNUM ",\"significant\":" BOOL
		 ",\"alert\":" BOOL,
		 "\"kind\",\"series\",\"labels\",\"eta_s\",\"alert\"")) ",\"alerts\":" INT,
	 "\"predictions\",\"alerts\""),
     "200"},
    {"GET", "/api/v1/anomalies", NULL,
     OBJ("\"anomalies\":" ARR(
	     OBJ("\"id\":" INT ",\"series\":" STR ",\"start\":" NUM ",\"end\":" NUM
		 ",\"open\":" BOOL ",\"severity\":" STR ",\"peak_score\":" NUM
		 ",\"detectors\":" ARR(STR) ",\"contributors\":{\"type\":\"array\"}",
		 "\"id\",\"series\",\"start\",\"severity\",\"peak_score\"")),
	 "\"anomalies\""),
     "200"},
    {"GET", "/api/v1/processes", NULL,
     OBJ("\"timestamp\":" NUM ",\"processes\":" ARR(
	     OBJ("\"pid\":" INT ",\"comm\":" STR
		 ",\"metrics\":{\"type\":\"object\",\"additionalProperties\":" NUM "}",
		 "\"pid\",\"comm\",\"metrics\"")),
	 "\"processes\""),
     "200"},
    {"GET", "/api/v1/stream", NULL, STR, "200"},
    {"POST", "/api/v1/metrics",
     OBJ("\"timestamp\":" NUM ",\"metrics\":" ARR(
	     OBJ("\"name\":" STR ",\"type\":{\"type\":\"string\",\"enum\":[\"counter\",\"gauge\"]},"
		 "\"labels\":" LABELS ",\"value\":" NUM,
		 "\"name\",\"type\",\"value\"")),
	 "\"metrics\""),
     OBJ("\"accepted\":" INT ",\"timestamp\":" NUM ",\"stored\":" BOOL, "\"accepted\""), "200"},
    {"POST", "/api/v1/auth/login",
     OBJ("\"name\":" STR ",\"username\":{\"type\":\"string\",\"deprecated\":true,"
	 "\"description\":\"the same as name\"},\"password\":" STR,
	 "\"password\""),
     OBJ("\"token\":" STR ",\"token_type\":" STR ",\"expires_at\":" NUM,
	 "\"token\",\"token_type\",\"expires_at\""),
     "200"},
    {"GET", "/api/v1/auth/me", NULL,
     OBJ("\"user\":" STR ",\"role\":" ROLE ",\"token_id\":{\"type\":\"integer\","
	 "\"nullable\":true},\"expires_at\":" NNUM,
	 "\"user\",\"role\""),
     "200"},
    {"POST", "/api/v1/auth/tokens", OBJ("\"role\":" ROLE ",\"label\":" STR, "\"role\""),
     OBJ("\"id\":" INT ",\"token\":" STR ",\"role\":" ROLE ",\"label\":" STR,
	 "\"id\",\"token\",\"role\""),
     "201"},
    {"DELETE", "/api/v1/auth/tokens/{id}", NULL, NULL, "204"},
    {"GET", "/api/v1/users", NULL,
     OBJ("\"users\":" ARR(
	     OBJ("\"name\":" STR ",\"role\":" ROLE ",\"created_at\":" NUM, "\"name\",\"role\"")),
	 "\"users\""),
     "200"},
    {"POST", "/api/v1/users",
     OBJ("\"name\":" STR ",\"username\":{\"type\":\"string\",\"deprecated\":true,"
	 "\"description\":\"the same as name\"},\"password\":" STR ",\"role\":" ROLE,
	 "\"password\",\"role\""),
     OBJ("\"name\":" STR ",\"role\":" ROLE, "\"name\",\"role\""), "201"},
    {"DELETE", "/api/v1/users/{name}", NULL, NULL, "204"},
};

int api_openapi_schemas(const char *method, const char *pattern, json_t **ret_request,
			json_t **ret_response, const char **ret_status)
{
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
		if (strcmp(schemas[i].method, method) || strcmp(schemas[i].pattern, pattern))
			continue;
		*ret_request = schemas[i].request ? json_loads(schemas[i].request, 0, NULL) : NULL;
		*ret_response =
		    schemas[i].response ? json_loads(schemas[i].response, 0, NULL) : NULL;
		*ret_status = schemas[i].status;
		if ((schemas[i].request && !*ret_request) ||
		    (schemas[i].response && !*ret_response)) {
			json_decref(*ret_request);
			json_decref(*ret_response);
			return -EINVAL; /* a schema above that is not JSON: a unit test catches it
					 */
		}
		return 0;
	}
	return -ENOENT;
}
