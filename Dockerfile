# tai container image: one-shot runs (`tai run|collect|history ...`) with the ssh keys, agent
# socket and TAI_HOME mounted in. See README "Container".
#
#   docker build -t tai .                          # builds tai from source (stage `build`)
#   buildah bud --target prebuilt -f Dockerfile CTX  # CI: CTX holds target/release/tai and
#                                                  # container/entrypoint.sh (see .ci/image)
#
# Runtime needs: glibc (the base) and ca-certificates (rustls verifies https model endpoints
# against the system store). No openssh-client: tai speaks SSH itself (russh) and reads
# ssh_config/known_hosts itself.
ARG BASE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm

FROM ${RUST_IMAGE} AS build
# .git is not in the context (.dockerignore): pass the revision for `tai --version`.
ARG REVISION=unknown
WORKDIR /src
COPY . .
RUN TAI_GIT_REV="${REVISION}" cargo build --release --locked && install -D -m0755 target/release/tai /out/tai

FROM ${BASE} AS runtime-base
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tai" \
      org.opencontainers.image.description="Troubleshoot Linux hosts over SSH with a local LLM, read-only" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/tai-project/tai" \
      org.opencontainers.image.licenses="MIT"
# ca-certificates: skip apt when the base already has it (CI's mmdebstrap base does).
RUN if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --gid 10001 tai \
 && useradd --uid 10001 --gid 10001 --home-dir /home/tai --create-home --shell /usr/sbin/nologin tai \
 && install -d -o 10001 -g 10001 -m 0700 /tai /home/tai/.ssh
COPY container/entrypoint.sh /usr/local/bin/tai-entrypoint
ENV TAI_HOME=/tai \
    TAI_KNOWN_HOSTS=/tai/known_hosts \
    HOME=/home/tai
VOLUME ["/tai"]
WORKDIR /tai
USER 10001:10001
HEALTHCHECK --interval=5m --timeout=10s CMD ["tai", "--version"]
ENTRYPOINT ["tai-entrypoint"]
CMD ["--help"]

# CI: the binary cargo already built, from a small build context.
FROM runtime-base AS prebuilt
COPY target/release/tai /usr/local/bin/tai

# Default (last) stage: the binary built from source above.
FROM runtime-base AS runtime
COPY --from=build /out/tai /usr/local/bin/tai
