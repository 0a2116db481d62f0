# kpulse in a container. Build:  docker build -t kpulse .
# Run (see README, "Running as a service"): not --privileged, only the
# capabilities that load and attach tracing BPF programs, and the host's
# pids so per-process rows show host processes:
#   docker run -d --name kpulse --pid=host \
#     --cap-add BPF --cap-add PERFMON --cap-add SYS_RESOURCE \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v kpulse-data:/var/lib/kpulse \
#     -e KPULSE_ADMIN_PASSWORD=change-me-now -p 127.0.0.1:9876:9876 kpulse
# Inside, the daemon listens on 0.0.0.0:9876, where a published port
# arrives; so /metrics asks for a token too (KPULSE_METRICS_AUTH=on).

# ---- build stage: the same make targets CI runs ----
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends make ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make deps-run && make build

# ---- run stage: runtime libraries only ----
FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libjansson4 libsqlite3-0 libmicrohttpd12 libcurl4 libssl3 libseccomp2 \
        libsnappy1v5 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/kpulse /usr/local/bin/kpulse
COPY --from=build /src/.env.example /usr/share/doc/kpulse/env.example
ENV KPULSE_DATA_DIR=/var/lib/kpulse \
    KPULSE_LISTEN=0.0.0.0:9876 \
    KPULSE_METRICS_AUTH=on
VOLUME /var/lib/kpulse
EXPOSE 9876
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kpulse"]
CMD ["run"]
