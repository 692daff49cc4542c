#!/bin/sh
# compose.yaml's one-shot `nginx-site`: render nginx's configuration with `conduit nginx-config` from the
# templates in this image, and copy the static files it serves, into the volumes the nginx container
# mounts. It runs on every `docker compose up`, so nginx always matches the image of the app.
#
#   NGINX_SITE_DIR   where to write (default /app/nginx): conf.d/conduit.conf and static/
#   NGINX_UPSTREAM   the app service (default app:8000); NGINX_SERVER_NAME (default _)
set -eu

site=${NGINX_SITE_DIR:-/app/nginx}
static=$(python -c 'from conduit.ops.nginx_config import STATIC_ROOT; print(STATIC_ROOT)')

conduit nginx-config \
  --upstream "${NGINX_UPSTREAM:-app:8000}" \
  --server-name "${NGINX_SERVER_NAME:-_}" \
  --listen 0.0.0.0 --port 80 \
  --static-root /srv/conduit/static \
  --access-log /dev/stdout --error-log /dev/stderr \
  --output "$site/conf.d/conduit.conf"

find "$site/static" -mindepth 1 -delete
cp -R "$static/." "$site/static/"
echo "nginx-site: copied the static files from $static to $site/static" >&2
