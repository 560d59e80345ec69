# One image for every gateway process; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && node dist/cli/write-rds-ca.js /app/rds-ca-bundle.pem && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The RDS certificate authorities: NODE_EXTRA_CA_CERTS in deploy/aws/template.yaml, so the database's
# certificate is checked (sslmode=verify-full).
COPY --from=build /app/rds-ca-bundle.pem ./rds-ca-bundle.pem
# The fraud worker's model artifacts (src/fraud/model.ts reads the newest).
COPY models ./models
RUN mkdir -p /data && chown node:node /data
USER node
ENV DATA_DIR=/data
# Overridden per service in docker-compose.yml.
CMD ["node", "dist/api/server.js"]
