# syntax=docker/dockerfile:1
# Build the release binary, then run it as non-root from a slim base:
#   docker build -t REGISTRY/pingpong:0.1.0 . && docker push REGISTRY/pingpong:0.1.0
# (then pin what you pushed by digest: docs/kubernetes.md#image).
#
# Base images are pinned to exact versions here. To pin their digests too,
# pass what `docker buildx imagetools inspect IMAGE` prints:
#   --build-arg RUST_IMAGE=rust:1.95.0-bookworm@sha256:...
#   --build-arg RUNTIME_IMAGE=debian:12.11-slim@sha256:...
ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG RUNTIME_IMAGE=debian:12.11-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The crate registry and the compiled dependencies persist in BuildKit caches
# between builds, so a change to the code recompiles pingpong alone.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin pingpong \
    && install -m 0755 target/release/pingpong /usr/local/bin/pingpong

FROM ${RUNTIME_IMAGE}
COPY --from=build /usr/local/bin/pingpong /usr/local/bin/pingpong
# No home, no writable state: certificates come from a mount (--cert/--key/--ca).
USER 65532:65532
ENTRYPOINT ["pingpong"]
