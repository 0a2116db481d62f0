# kpulse - kernel telemetry daemon. `make help` lists the targets.

BUILD ?= build
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC ?= cc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PYTHON ?= /usr/bin/python3

# Debian 12 packages. `make run` (deps-run) installs only DEPS_BUILD: the
# compiler, the libraries the binary links and npm, which installs the
# dashboard's charting library (web/package-lock.json; a Node.js that brings
# its own npm is taken as it is). `make test` (deps) adds DEPS_TEST, every
# tool a test or `make bench` runs: load generators, valgrind, perf,
# Prometheus and promtool, wrk, the browser, curl and the sqlite3 shell.
DEPS_BUILD := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc \
	libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev \
	libsnappy-dev libseccomp-dev npm
DEPS_TEST := fio stress-ng iperf3 iproute2 nftables python3-pytest valgrind linux-perf \
	procps util-linux e2fsprogs bindfs openssl prometheus wrk chromium chromium-driver python3-selenium \
	curl sqlite3 python3-jsonschema
# `make eval`: reference implementations the models are compared with.
DEPS_EVAL := python3-sklearn python3-statsmodels python3-pandas
DEPS := $(DEPS_BUILD) $(DEPS_TEST)

# `make install`: PREFIX for the binary and shared files, DESTDIR to stage.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/kpulse
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
STATEDIR ?= /var/lib/kpulse
DESTDIR ?=

PKGS := libbpf jansson sqlite3 libmicrohttpd libcurl libcrypto libseccomp
CFLAGS_EXTRA ?=
LDFLAGS_EXTRA ?=
ifeq ($(SANITIZE),1)
CFLAGS_EXTRA += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_EXTRA += -fsanitize=address,undefined
endif

CFLAGS := -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wshadow -Wformat=2 -Iinclude -Iuserspace -I$(BUILD) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS_EXTRA)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -ljansson -lsqlite3 -lmicrohttpd -lcurl -lcrypto -lseccomp) \
	-lsnappy -lelf -lz -lm -lpthread
LDFLAGS := $(LDFLAGS_EXTRA)

# vmlinux/<arch>/vmlinux.h: kernel types for CO-RE, one file per architecture.
VMLINUX_H := vmlinux/$(ARCH)/vmlinux.h
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ivmlinux/$(ARCH) -Ibpf \
	-Wall -Wno-unused-function -Werror

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# The web dashboard: web/ and uPlot (npm, pinned by web/package-lock.json)
# compiled into the binary as one generated table (web/embed.c).
UPLOT := web/node_modules/uplot
NPM_STAMP := web/node_modules/.package-lock.json
WEB_FILES := web/index.html $(sort $(wildcard web/*.css web/*.svg web/js/*.js)) \
	$(UPLOT)/dist/uPlot.iife.min.js $(UPLOT)/dist/uPlot.min.css $(BUILD)/web/uPlot.LICENSE.txt
WEB_OBJ := $(BUILD)/obj/web_assets.o

USER_SRCS := $(shell find userspace -name '*.c' | sort)
USER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(USER_SRCS)) $(WEB_OBJ)
MAIN_OBJ := $(BUILD)/obj/userspace/cli/main.o
LIB_OBJS := $(filter-out $(BUILD)/obj/userspace/cli/%,$(USER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps build run test test-unit test-kernel test-daemon test-api test-llm test-web \
	test-incidents \
	bench eval sanitize valgrind vmlinux env-example fuzz-csv fuzz-llm fuzz-chunk fuzz-incidents \
	fuzz fuzz-long fuzz-smoke bench-prometheus \
	format format-check clean help
.PHONY: deps-run deps-eval install test-prometheus test-packaging

all: build

help:
	@echo "make deps-run     install the missing Debian packages building and running need"
	@echo "make deps         the same plus every tool the tests use (apt-get)"
	@echo "make install      binary, systemd unit, env file, state dir (PREFIX, DESTDIR)"
	@echo "make              build build/kpulse"
	@echo "make run          deps + build + start kpulse with defaults"
	@echo "make test         deps + build + unit tests + kernel tests (root)"
	@echo "make test-unit    unit tests only (no root)"
	@echo "make test-llm     kpulse ask against the fake LLM server (no root)"
	@echo "make test-prometheus  promtool check and unit tests of the alert rules"
	@echo "make test-packaging   make install into a DESTDIR, the Grafana queries (root)"
	@echo "make test-web     the dashboard in headless Chromium against a live daemon (root)"
	@echo "make test-incidents loads that open incidents, read by the built-in analyst (root)"
	@echo "make sanitize     unit and kernel tests under ASan + UBSan"
	@echo "make valgrind     the daemon's start and stop under valgrind"
	@echo "make bench        cost per kernel event and throughput loss, models' cost"
	@echo "make eval         models on NAB series: anomaly scores, forecasts, IF/LOF vs scikit-learn"
	@echo "make fuzz-csv     libFuzzer on the CSV reader of replay (FUZZ_SECONDS=60)"
	@echo "make vmlinux      regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel's BTF"
	@echo "make format       clang-format the C sources"
	@echo "make env-example  regenerate .env.example from the option table"
	@echo "make fuzz-llm     libFuzzer on the LLM answer parsers (FUZZ_SECONDS=60)"
	@echo "make fuzz-chunk   libFuzzer on the store's chunk codec (FUZZ_SECONDS=60)"
	@echo "make bench-prometheus  bytes/sample: the store against a real Prometheus (PROM_COMPARE_S=600)"
	@echo "make fuzz-incidents libFuzzer on the incident and analyze bodies (FUZZ_SECONDS=60)"
	@echo "make fuzz         every libFuzzer target FUZZ_SECONDS (60) each; fuzz-long: 10^7 runs each"

# Installs only what is missing; does nothing when everything is present.
apt_install = missing=""; for p in $(1); do \
		if [ $$p = npm ] && command -v npm >/dev/null; then continue; fi; \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-run:
	@$(call apt_install,$(DEPS_BUILD))
	@$(MAKE) --no-print-directory $(NPM_STAMP)

deps:
	@$(call apt_install,$(DEPS))
	@$(MAKE) --no-print-directory $(NPM_STAMP)

deps-eval: deps
	@$(call apt_install,$(DEPS_EVAL))

# uPlot into web/node_modules, exactly as the lock file says; runs again
# only when package.json or the lock file change.
$(NPM_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

$(UPLOT)/dist/uPlot.iife.min.js $(UPLOT)/dist/uPlot.min.css $(UPLOT)/LICENSE: $(NPM_STAMP)

# The embedding tool runs on the build machine: no sanitizer, no kpulse code.
$(BUILD)/web/embed: web/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -o $@ $< -lz -lcrypto

# uPlot's MIT license ships with it, served as /ui/uPlot.LICENSE.txt.
$(BUILD)/web/uPlot.LICENSE.txt: $(UPLOT)/LICENSE
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/web_assets.c: $(BUILD)/web/embed $(WEB_FILES)
	$(BUILD)/web/embed $@ $(WEB_FILES)

$(WEB_OBJ): $(BUILD)/web_assets.c userspace/api/static.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build: $(BUILD)/kpulse

$(BUILD)/kpulse: $(USER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/kpulse_abi.h $(VMLINUX_H)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name kpulse_$* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Only the loader includes the generated skeletons.
$(BUILD)/obj/userspace/collection/probes.o: $(SKELS)

# Captured kernel files the parsers' tests read (tests/unit/fixtures).
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -DTEST_FIXTURES='"$(abspath tests/unit/fixtures)"' \
		-DTEST_WEB_DIR='"$(abspath web)"' -o $@ $< \
		$(LIB_OBJS) $(LDLIBS) $(LDFLAGS)

-include $(USER_OBJS:.o=.d)

run: deps-run build
	./$(BUILD)/kpulse run

test: deps build
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-llm
	$(MAKE) --no-print-directory test-kernel
	$(MAKE) --no-print-directory test-daemon
	$(MAKE) --no-print-directory test-api
	$(MAKE) --no-print-directory test-web
	$(MAKE) --no-print-directory test-incidents
	$(MAKE) --no-print-directory test-prometheus
	$(MAKE) --no-print-directory test-packaging
	$(MAKE) --no-print-directory fuzz-smoke

test-unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

test-kernel: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-kernel: skipped, needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"; \
	else \
		KPULSE_BIN=$(abspath $(BUILD)/kpulse) $(PYTHON) -m pytest -v -p no:cacheprovider \
			tests/kernel; \
	fi

test-daemon: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-daemon: skipped, needs root (BPF, mounts)"; \
	else \
		if [ "$(SANITIZE)" != 1 ]; then tests/valgrind.sh $(BUILD)/kpulse || exit 1; fi; \
		KPULSE_BIN=$(abspath $(BUILD)/kpulse) $(PYTHON) -m pytest -v -p no:cacheprovider \
			tests/daemon; \
	fi

test-api: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-api: skipped, needs root (the daemon loads BPF)"; \
	else \
		KPULSE_BIN=$(abspath $(BUILD)/kpulse) $(PYTHON) -m pytest -v -p no:cacheprovider \
			tests/api; \
	fi

# Incidents end to end on the real kernel: a CPU hog, an I/O storm, an OOM
# kill in a memory cgroup and packet loss between network namespaces each
# open an incident whose built-in analysis names the resource and culprit;
# a local webhook receiver checks the alerts (a few minutes).
test-incidents: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-incidents: skipped, needs root (BPF, namespaces, cgroups)"; \
	else \
		KPULSE_BIN=$(abspath $(BUILD)/kpulse) $(PYTHON) -m pytest -v -p no:cacheprovider \
			tests/incidents; \
	fi

# The LLM route end to end: `kpulse ask` against tests/fakes/fake_llm.py on
# 127.0.0.1. No root needed.
test-llm: build
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) $(PYTHON) -m pytest -v -p no:cacheprovider tests/llm

# Browser tests of the dashboard: headless Chromium (Debian's chromium and
# chromium-driver, driven by python3-selenium) against a live daemon;
# screenshots of every page and role land in $(BUILD)/test-artifacts/web.
test-web: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-web: skipped, needs root (the daemon loads BPF)"; \
	else \
		KPULSE_BIN=$(abspath $(BUILD)/kpulse) \
		KPULSE_WEB_ARTIFACTS=$(abspath $(BUILD))/test-artifacts/web \
			$(PYTHON) -m pytest -v -p no:cacheprovider tests/web; \
	fi

# The binary, the systemd unit (its paths rewritten for BINDIR and
# SYSCONFDIR), an env file (kept when present: it holds the admin's
# settings), the state dir mode 0700 and the Prometheus and Grafana files.
# `make install DESTDIR=/tmp/stage PREFIX=/usr` stages a package tree.
install: build
	install -D -m 0755 $(BUILD)/kpulse $(DESTDIR)$(BINDIR)/kpulse
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/kpulse
	sed -e 's|/usr/local/bin/kpulse|$(BINDIR)/kpulse|g' \
		-e 's|/etc/kpulse/kpulse.env|$(SYSCONFDIR)/kpulse/kpulse.env|g' \
		-e 's|^Environment=KPULSE_DATA_DIR=.*|Environment=KPULSE_DATA_DIR=$(STATEDIR)|' \
		packaging/kpulse.service > $(DESTDIR)$(UNITDIR)/kpulse.service.tmp
	mv $(DESTDIR)$(UNITDIR)/kpulse.service.tmp $(DESTDIR)$(UNITDIR)/kpulse.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kpulse.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env"; \
	else \
		{ echo "# kpulse settings for the service (KPULSE_* lines; see"; \
		  echo "# $(DATADIR)/env.example for every option and its default)."; \
		  echo "# kpulse user reads this file too, so it finds the service's data dir."; \
		  echo "KPULSE_DATA_DIR=$(STATEDIR)"; \
		  echo "# KPULSE_LISTEN=127.0.0.1:9876"; \
		  echo "# KPULSE_ADMIN_PASSWORD=...   (first start only; or kpulse user add)"; \
		} > $(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env.tmp && \
		chmod 0600 $(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env.tmp && \
		mv $(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env.tmp \
			$(DESTDIR)$(SYSCONFDIR)/kpulse/kpulse.env; \
	fi
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	chmod 0700 $(DESTDIR)$(STATEDIR)
	install -D -m 0644 .env.example $(DESTDIR)$(DATADIR)/env.example
	for f in $$(cd packaging && find prometheus grafana -type f 2>/dev/null); do \
		install -D -m 0644 packaging/$$f $(DESTDIR)$(DATADIR)/$$f || exit 1; \
	done

# The alert rules: promtool's syntax check and the rules' unit tests
# (promtool comes with Debian's prometheus package).
test-prometheus:
	promtool check rules packaging/prometheus/kpulse-alerts.yml
	cd packaging/prometheus && promtool test rules kpulse-alerts.test.yml

# make install into a DESTDIR (no root); the Grafana dashboard's every query
# against a real Prometheus scraping a real daemon (root: the daemon loads BPF).
test-packaging: build
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) SANITIZE=$(SANITIZE) $(PYTHON) -m pytest -v \
		-p no:cacheprovider tests/packaging

sanitize: deps
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 test-unit test-llm test-kernel \
		test-daemon test-api test-web test-packaging

valgrind: deps build
	@tests/valgrind.sh $(BUILD)/kpulse

# .env.example is generated from the option table in util/config.c (by config_env.c).
env-example: $(BUILD)/tests/gen_env_example
	$(BUILD)/tests/gen_env_example > .env.example

$(BUILD)/tests/gen_env_example $(BUILD)/tests/bench_store $(BUILD)/tests/bench_procpass \
		$(BUILD)/tests/bench_models $(BUILD)/tests/bench_detector $(BUILD)/tests/bench_models_mem: \
		$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LDLIBS) $(LDFLAGS)

# Evaluation tools: offline scorers that tests/eval/ scripts compare with
# scikit-learn and statsmodels.
EVAL_BINS := $(BUILD)/tests/mvscore
$(EVAL_BINS): $(BUILD)/tests/%: tests/eval/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) $(LDFLAGS)

# The store bench also runs on the store before compressed chunks (main at
# STORE_BASELINE_REV, from git), so that both figures come from one run;
# without git history the bench runs alone.
STORE_BASELINE_REV ?= 5a663ec
STORE_BASELINE_DIR := $(BUILD)/bench-baseline
$(STORE_BASELINE_DIR)/bench_store: tests/unit/bench_store.c
	rm -rf $(STORE_BASELINE_DIR)/src && mkdir -p $(STORE_BASELINE_DIR)/src
	git archive $(STORE_BASELINE_REV) | tar -x -C $(STORE_BASELINE_DIR)/src
	$(MAKE) -C $(STORE_BASELINE_DIR)/src --no-print-directory build >/dev/null
	$(CC) -I$(STORE_BASELINE_DIR)/src/userspace $(CFLAGS) -DBENCH_STORE_BASELINE -o $@ $< \
		$$(ls $(STORE_BASELINE_DIR)/src/build/obj/userspace/*/*.o | grep -v /cli/) \
		$(STORE_BASELINE_DIR)/src/build/obj/web_assets.o $(LDLIBS) $(LDFLAGS)

bench: deps build $(BUILD)/tests/bench_store $(BUILD)/tests/bench_procpass \
		$(BUILD)/tests/bench_models $(BUILD)/tests/bench_detector $(BUILD)/tests/bench_models_mem
	-$(MAKE) --no-print-directory $(STORE_BASELINE_DIR)/bench_store
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) BENCH_STORE_BIN=$(abspath $(BUILD)/tests/bench_store) \
		BENCH_STORE_BASELINE_BIN=$(abspath $(STORE_BASELINE_DIR)/bench_store) \
		BENCH_MODELS_MEM_BIN=$(abspath $(BUILD)/tests/bench_models_mem) \
		BENCH_PROCPASS_BIN=$(abspath $(BUILD)/tests/bench_procpass) \
		BENCH_MODELS_BIN=$(abspath $(BUILD)/tests/bench_models) \
		BENCH_DETECTOR_BIN=$(abspath $(BUILD)/tests/bench_detector) tests/bench/bench.sh

# The NAB subset in ../shared replayed through the daemon's detector and
# scored per cost profile, then the forecasts and IF/LOF against statsmodels
# and scikit-learn; each skips with a message when ../shared is absent.
eval: deps-eval build $(EVAL_BINS)
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) tests/eval/nab_eval.sh
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) MVSCORE_BIN=$(abspath $(BUILD)/tests/mvscore) \
		tests/eval/eval.sh

# libFuzzer on util/csv, the CSV reader of replay and forecast (clang, ASan +
# UBSan), FUZZ_SECONDS long, from the seed corpus in tests/fuzz/corpus/csv
# (the first byte of an input picks series or matrix; new inputs are kept in
# $(BUILD)/fuzz/csv, not in the source tree).
FUZZ_SECONDS ?= 60
FUZZ_CSV_SRCS := tests/fuzz/fuzz_csv.c userspace/util/csv.c userspace/util/error.c \
	userspace/util/utf8.c
$(BUILD)/fuzz/fuzz_csv: $(FUZZ_CSV_SRCS) userspace/util/csv.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iuserspace -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $(FUZZ_CSV_SRCS) -lm

fuzz-csv: $(BUILD)/fuzz/fuzz_csv
	@mkdir -p $(BUILD)/fuzz/csv
	$(BUILD)/fuzz/fuzz_csv -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
		$(BUILD)/fuzz/csv tests/fuzz/corpus/csv

# libFuzzer on what LLM providers send back: the answer parsers and error
# readers of llm/ and the evidence trimmer (clang, ASan + UBSan), for
# FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus/llm (new inputs
# go to $(BUILD)/fuzz/llm, not into the source tree).
FUZZ_LLM_SRCS := tests/fuzz/fuzz_llm_answer.c userspace/llm/llm_openai.c \
	userspace/llm/llm_ollama.c userspace/llm/llm_hf.c userspace/llm/llm_prompt.c \
	userspace/util/utf8.c userspace/util/error.c
$(BUILD)/fuzz/fuzz_llm_answer: $(FUZZ_LLM_SRCS) userspace/llm/llm.h userspace/llm/llm_provider.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iuserspace \
		$(shell pkg-config --cflags jansson 2>/dev/null) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$(FUZZ_LLM_SRCS) $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

fuzz-llm: $(BUILD)/fuzz/fuzz_llm_answer
	@mkdir -p $(BUILD)/fuzz/llm
	$(BUILD)/fuzz/fuzz_llm_answer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/llm tests/fuzz/corpus/llm

# Bytes per sample on disk, kpulse's store against a real Prometheus
# scraping the same daemon (PROM_COMPARE_S long, default 600 s); not part
# of make bench, which it would lengthen by the window.
bench-prometheus: build
	KPULSE_BIN=$(abspath $(BUILD)/kpulse) tests/bench/prom_compare.sh

# libFuzzer on store/store_chunk.c, the codec of the compressed raw chunks
# read back from the database: any bytes decode or are refused, and what
# is encoded decodes back bit for bit (clang, ASan + UBSan), FUZZ_SECONDS
# from the seed corpus in tests/fuzz/corpus/chunk.
FUZZ_CHUNK_SRCS := tests/fuzz/fuzz_chunk.c userspace/store/store_chunk.c
$(BUILD)/fuzz/fuzz_chunk: $(FUZZ_CHUNK_SRCS) userspace/store/store_chunk.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iuserspace -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $(FUZZ_CHUNK_SRCS)

fuzz-chunk: $(BUILD)/fuzz/fuzz_chunk
	@mkdir -p $(BUILD)/fuzz/chunk
	$(BUILD)/fuzz/fuzz_chunk -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
		-artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/chunk tests/fuzz/corpus/chunk

# libFuzzer on the bodies of the incident routes and POST /api/v1/analyze
# (api/incident_body.c over api/input.c) and on the window a question
# names (analysis/question.c), for FUZZ_SECONDS from tests/fuzz/corpus/incident.
FUZZ_INCIDENT_SRCS := tests/fuzz/fuzz_incident_body.c userspace/api/incident_body.c \
	userspace/api/input.c userspace/analysis/question.c userspace/registry/registry.c \
	userspace/registry/hist.c userspace/util/utf8.c userspace/util/error.c
$(BUILD)/fuzz/fuzz_incident_body: $(FUZZ_INCIDENT_SRCS) userspace/api/api_internal.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace \
		$(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$(FUZZ_INCIDENT_SRCS) $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson) -lm

fuzz-incidents: $(BUILD)/fuzz/fuzz_incident_body
	@mkdir -p $(BUILD)/fuzz/incident
	$(BUILD)/fuzz/fuzz_incident_body -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/incident tests/fuzz/corpus/incident
# Every libFuzzer target (clang, ASan + UBSan): tests/fuzz/fuzz_NAME.c with
# its seed corpus in tests/fuzz/corpus/CORPUS (NAME:CORPUS below); inputs
# found go to $(BUILD)/fuzz/CORPUS, crashes to $(BUILD)/fuzz/. The new
# targets link the userspace code they use from one archive built with
# -fsanitize=fuzzer-no-link. `make fuzz` runs each FUZZ_SECONDS,
# `make fuzz-long` 10^7 executions each, `make fuzz-smoke` (part of
# `make test`) FUZZ_SMOKE_SECONDS each.
FUZZ_TARGETS := csv:csv llm_answer:llm api_input:api_input api_route:api_route jwt:jwt \
	config:config events:events chunk:chunk event_block:event_block \
	incident_body:incident proc_stat:proc_stat mountinfo:mountinfo proc_cgroup:proc_cgroup \
	proc_text:proc_text model_state:model_state
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_BINS := $(foreach t,$(FUZZ_TARGETS),$(BUILD)/fuzz/fuzz_$(firstword $(subst :, ,$(t))))
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -I$(BUILD) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(filter-out userspace/cli/%,$(USER_SRCS))) \
	$(BUILD)/fuzz/obj/web_assets.o

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(BUILD)/fuzz/obj/web_assets.o: $(BUILD)/web_assets.c userspace/api/static.h
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/obj/userspace/collection/probes.o: $(SKELS)
-include $(FUZZ_LIB_OBJS:.o=.d)

$(BUILD)/fuzz/libkpulse.a: $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libkpulse.a
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libkpulse.a $(LDLIBS)

# FUZZ_RUN: the libFuzzer options of one pass, for every target in turn.
define fuzz_all
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; corpus=$${t##*:}; max=16384; \
		[ $$name = llm_answer ] && max=65536; \
		mkdir -p $(BUILD)/fuzz/$$corpus; \
		echo "fuzz_$$name: $(1)"; \
		$(BUILD)/fuzz/fuzz_$$name $(1) -max_len=$$max -artifact_prefix=$(BUILD)/fuzz/ \
			-print_final_stats=1 $(BUILD)/fuzz/$$corpus tests/fuzz/corpus/$$corpus \
			2>$(BUILD)/fuzz/$$name.log || { tail -50 $(BUILD)/fuzz/$$name.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' $(BUILD)/fuzz/$$name.log \
			| sed "s/^/  /"; \
	done
endef

fuzz: $(FUZZ_BINS)
	$(call fuzz_all,-max_total_time=$(FUZZ_SECONDS))

fuzz-long: $(FUZZ_BINS)
	$(call fuzz_all,-runs=10000000)

fuzz-smoke: $(FUZZ_BINS)
	$(call fuzz_all,-max_total_time=$(FUZZ_SMOKE_SECONDS))

vmlinux:
	@mkdir -p $(dir $(VMLINUX_H))
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H).tmp
	mv $(VMLINUX_H).tmp $(VMLINUX_H)

FORMAT_SRCS = $(shell find bpf include userspace tests -name '*.[ch]') web/embed.c
format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

# `make clean` removes $(BUILD); `make clean BUILD=build-asan` the sanitizer build.
clean:
	rm -rf $(BUILD)

.SECONDARY:
# A recipe that fails leaves no half-written target behind.
.DELETE_ON_ERROR:
