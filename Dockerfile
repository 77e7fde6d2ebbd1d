# One image for every service; the compose file picks the entry point.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx prisma generate && node scripts/build.js

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
# overridden per service in docker-compose.yml
CMD ["node", "--enable-source-maps", "dist/apps/ingress/src/main.js"]
