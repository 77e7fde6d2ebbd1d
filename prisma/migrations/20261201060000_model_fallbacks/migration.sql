-- A model may name other models to serve a call when every one of its own channels fails or is
-- open-circuit, tried in order (ingress's UpstreamClient).
ALTER TABLE "models" ADD COLUMN "fallbacks" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
