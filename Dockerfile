# One image for every autoheal app. The app is the first argument:
#   <image> detector | decision | executor | auditor     the service (OpenTelemetry preloaded)
#   <image> console                                       the ops console (apps/console)
#   <image> <service> migrate                             its migrations, as the owner role
#   <image> agent                                         the host agent, once apps/agent exists
# Build (tools/image/build.js does all of it, base images included):
#   buildah bud --isolation chroot --layers --build-arg VERSION=<package.json version> \
#     --build-arg BUILD_IMAGE=… --build-arg NODE_IMAGE=… -t autoheal:<version> .
# BUILD_IMAGE and NODE_IMAGE default to the Debian trixie bases tools/image/base-images.js makes
# locally with debootstrap (no registry needed); any image with Node.js ≥ 20.19 (and npm, for
# BUILD_IMAGE) will do, e.g. a registry's node:20 images.
ARG BUILD_IMAGE=localhost/autoheal-base-build:trixie-1
ARG NODE_IMAGE=localhost/autoheal-base-runtime:trixie-1

# Only what `npm ci` reads (the lock file and every workspace's package.json), so that the
# dependencies' layer is reused for as long as they are unchanged, whatever else changed.
FROM ${BUILD_IMAGE} AS manifests
COPY . /context
RUN cd /context \
 && find . -name package.json -not -path '*/node_modules/*' -exec install -D -m 0644 '{}' '/manifests/{}' ';' \
 && cp package-lock.json /manifests/

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /manifests/ ./
# Install scripts are not needed to compile (TypeScript) or to run (no native addon at runtime).
# The secret `ca-certificates` (optional) is a CA bundle for a network that intercepts TLS on its
# way to the npm registry; it is mounted for this step only and stays out of every layer.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca-certificates \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY . .
# The TypeScript projects, then the console's front-end (vite).
RUN npm run build --silent
# Production dependencies only, then what the runtime needs: each workspace's package.json and dist.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && mkdir -p /out \
 && cp -a package.json node_modules /out/ \
 && for ws in apps/* libs/*; do \
      mkdir -p "/out/$ws" && cp -a "$ws/package.json" "/out/$ws/" \
      && if [ -d "$ws/dist" ]; then cp -a "$ws/dist" "/out/$ws/"; fi; \
    done \
 && find /out/apps /out/libs -name '*.tsbuildinfo' -delete \
 && cp tools/image/entrypoint.js /out/entrypoint.js

FROM ${NODE_IMAGE}
ARG VERSION=0.0.0-dev
LABEL org.opencontainers.image.title="autoheal" \
      org.opencontainers.image.description="autoheal: detector, decision, executor, auditor, console (one image, the app is the first argument)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="UNLICENSED"
# Inside a container the loopback interface is the container's own: serve the pod's address.
ENV AUTOHEAL_VERSION="${VERSION}" \
    NODE_ENV=production \
    HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=0:0 /out /app
# A numeric user, so that Kubernetes' runAsNonRoot can check it; it owns nothing in /app.
USER 10001:10001
ENTRYPOINT ["/usr/bin/node", "/app/entrypoint.js"]
CMD ["--version"]
