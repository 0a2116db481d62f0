# kpulse in a container. Build:  docker build -t kpulse .
# Run (privileged, with the kernel's BTF, tracefs and bpffs available):
#   docker run --rm --privileged --pid=host \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro \
#     -v /sys/kernel/tracing:/sys/kernel/tracing \
#     -v /sys/fs/bpf:/sys/fs/bpf \
#     -v kpulse-data:/var/lib/kpulse -p 127.0.0.1:9876:9876 kpulse
# --pid=host makes per-process rows show host pids and names.

# ---- build stage: the same make targets CI runs ----
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends make ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make deps DEPS_TEST= && make build

# ---- run stage: runtime libraries only ----
FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libjansson4 libsqlite3-0 libmicrohttpd12 libcurl4 libssl3 libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/kpulse /usr/local/bin/kpulse
COPY --from=build /src/.env.example /usr/share/doc/kpulse/env.example
ENV KPULSE_DATA_DIR=/var/lib/kpulse
VOLUME /var/lib/kpulse
EXPOSE 9876
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kpulse"]
CMD ["run"]
