# Build the release binary, then run it as non-root from a slim base.
# docker build -t pingpong:latest . && docker run --rm pingpong:latest demo
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin pingpong

FROM debian:bookworm-slim
COPY --from=build /src/target/release/pingpong /usr/local/bin/pingpong
# No home, no writable state: certificates come from a mount (--cert/--key/--ca).
USER 65532:65532
ENTRYPOINT ["pingpong"]
