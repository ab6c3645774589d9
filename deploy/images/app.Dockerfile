# The application layer: only the sanshi binary, stamped with its version,
# commit and build time. A release changes this layer alone.
ARG RUNTIME=sanshi/runtime:bookworm
FROM ${RUNTIME}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://example.invalid/sanshi
LABEL org.opencontainers.image.title="sanshi" \
      org.opencontainers.image.description="Sanshi (三拾众筹) crowdfunding platform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}"
COPY sanshi /usr/local/bin/sanshi
EXPOSE 8080 9090
ENTRYPOINT ["dumb-init", "--", "sanshi"]
CMD ["help"]
