# syntax=docker/dockerfile:1
# One runtime image for every service; the command picks the service:
#   node dist/apps/{ingress,billing,models,task-worker,mock-upstream}/src/main.js
# A second target, `migrate`, carries the Prisma CLI (a dev dependency) to run `prisma migrate deploy`
# once per release; the runtime image has no dev dependencies, no sources and no compiler.
#   docker build -t gateway .                     # runtime (the last stage)
#   docker build --target migrate -t gateway-migrate .

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed (the Prisma client is generated below, wasm only, and nothing
# native is built), and Prisma's own would try to download engines this project never uses
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM deps AS build
COPY tsconfig.base.json tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY apps ./apps
COPY libs ./libs
# prisma generate writes libs/db/src/generated; build.js compiles apps/ and libs/ with swc and copies the
# generated client's wasm query compiler beside its compiled code in dist/, then builds the web console
# (apps/console, Vite) into apps/console/dist
RUN npx prisma generate && node scripts/build.js

# One-shot migration image: `prisma migrate deploy` through the wasm schema engine and the driver adapter in
# prisma/cli-adapter.ts (see prisma.config.ts); it needs the CLI, so it keeps the full install.
FROM build AS migrate
ENV NODE_ENV=production CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1
USER node
CMD ["./node_modules/.bin/prisma", "migrate", "deploy"]

FROM node:20-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# owned by root and read-only to the service user: the services write nothing to disk
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the web console's static build, served by the ingress at /console/
COPY --from=build /app/apps/console/dist ./apps/console/dist
COPY package.json ./
# migrations travel with the release they belong to (applied by the `migrate` image)
COPY prisma ./prisma
# the demo seed (docker compose --profile demo) uses only Node's own modules
COPY scripts/seed.js ./scripts/seed.js
COPY scripts/lib ./scripts/lib
USER node
EXPOSE 8080 9100 9101 9102 9103
# ingress runs with 32 MB young-generation semi-spaces (scripts/lib/system.js says why)
CMD ["node", "--enable-source-maps", "--max-semi-space-size=32", "dist/apps/ingress/src/main.js"]
