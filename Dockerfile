# The controller image the Helm chart runs. Build: docker build -t <registry>/o365-controller:<tag> .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p o365-controller

# Distroless, non-root (uid 65532, as the chart's securityContext expects), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/o365-controller /usr/local/bin/o365-controller
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/o365-controller"]
CMD ["run"]
