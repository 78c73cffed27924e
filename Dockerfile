# The controller image the Helm chart runs. Build: docker build -t <registry>/o365-controller:<tag> .
#
# Base images are pinned by digest (a tag moves, a digest does not): the build is reproducible
# and a pushed-over tag cannot change what ships. Update both together, e.g. with
#   crane digest rust:1.95-bookworm
#   crane digest gcr.io/distroless/cc-debian12:nonroot
# or override them at build time: docker build --build-arg RUST_IMAGE=... .
ARG RUST_IMAGE=rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p o365-controller

# Distroless, non-root (uid 65532, as the chart's securityContext expects), no shell.
FROM ${RUNTIME_IMAGE}
COPY --from=build /src/target/release/o365-controller /usr/local/bin/o365-controller
USER 65532:65532
# One glibc malloc arena: with one per thread (up to 8 per core) the memory of each reconcile's
# burst stayed resident in several arenas (B3 in the README: 70 → 49 MiB at 10,000 users).
ENV MALLOC_ARENA_MAX=1
# A fixed mmap threshold: blocks from 128 KiB up (the mirror's user list, a reconcile's copies of
# the users, Graph's pages) are mapped and unmapped on free. glibc's default raises the threshold
# to the largest block freed so far, after which such blocks come from the heap and the heap
# stays at its peak (B3 in the README: 279 -> 208 MiB resident at 100,000 users).
ENV MALLOC_MMAP_THRESHOLD_=131072
ENTRYPOINT ["/usr/local/bin/o365-controller"]
CMD ["run"]
