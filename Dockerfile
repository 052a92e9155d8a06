# jobledger image: build from source, run on a slim Debian. SQLite is bundled; TLS is rustls.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# build.rs installs the web interface's browser libraries from web/package-lock.json.
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs askama.toml ./
COPY web web
COPY .cargo .cargo
COPY src src
COPY migrations migrations
COPY config config
COPY benches benches
RUN cargo build --release --locked --bin jobledger

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/jobledger --create-home jobledger \
 && install -d -o jobledger /var/lib/jobledger/var
COPY --from=build /src/target/release/jobledger /usr/local/bin/jobledger
USER jobledger
WORKDIR /var/lib/jobledger
EXPOSE 8080
ENTRYPOINT ["jobledger"]
CMD ["serve"]
