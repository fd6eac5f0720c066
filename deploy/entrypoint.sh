#!/bin/sh
# scalemesh-service SERVICE [flags...]: runs one service of the image.
set -e
service="${1:-coordinator}"
shift || true
case "$service" in
  coordinator|balancer|optimizer|worker-agent) exec node "dist/services/$service/main.js" "$@" ;;
  cli) exec node dist/services/cli/main.js "$@" ;;
  *) echo "unknown service '$service': use coordinator, balancer, optimizer, worker-agent or cli" >&2; exit 2 ;;
esac
