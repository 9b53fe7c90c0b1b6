# syntax=docker/dockerfile:1
# The Weir broker image: `docker build -t weir:0.1.0 .` from the repository root.
#
# Two stages: the workspace built with the Rust toolchain, then only the `weir` binary on a
# slim Debian (glibc, and /bin/sh for the Helm chart's wrapper that takes the node id from the
# pod ordinal). Runs as the unprivileged user weir (uid/gid 10001) and writes nothing outside
# /var/lib/weir, so it runs with a read-only root filesystem; /tmp is only for tools.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# librdkafka (the admin CLI: `weir topic|group|cluster …`, including the preStop drain) is
# built from source by rdkafka-sys: a C/C++ toolchain, make and pkg-config.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p weir --bin weir \
    && install -D -m 0755 target/release/weir /out/weir

FROM debian:${DEBIAN_RELEASE}-slim
RUN groupadd --system --gid 10001 weir \
    && useradd --system --uid 10001 --gid weir --home-dir /var/lib/weir --no-create-home \
        --shell /usr/sbin/nologin weir \
    && install -d -o weir -g weir -m 0750 /var/lib/weir \
    && install -d -m 0755 /etc/weir
COPY --from=build /out/weir /usr/local/bin/weir
USER 10001:10001
WORKDIR /var/lib/weir
VOLUME ["/var/lib/weir"]
# Kafka, Raft (broker to broker), HTTP (/metrics, /livez, /readyz).
EXPOSE 9092 9093 9644
# The same `weir serve` the chart runs (it replaces the command with a wrapper that adds the
# node id, voters and advertised listener). Alone, this is a single broker reachable on 9092.
ENTRYPOINT ["weir", "serve"]
CMD ["--data-dir", "/var/lib/weir/data", "--listen", "0.0.0.0:9092", "--http-listen", "0.0.0.0:9644", "--log-format", "json"]
