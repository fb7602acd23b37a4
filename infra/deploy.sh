#!/usr/bin/env bash
# One-command deploy. `infra/deploy.sh compose` (default): build the image and bring every service
# of infra/docker-compose.yml up, migrations first. `infra/deploy.sh k8s`: build, push to $REGISTRY,
# create the secret from infra/.env and apply infra/k8s/. Secrets live in infra/.env (never committed):
# POSTGRES_PASSWORD, ENCRYPTION_KEY, OPERATOR_API_KEY, JWT_SECRET, ORGO_API_KEY, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_PRICE_PRO, STRIPE_PRICE_ENTERPRISE, GRAFANA_ADMIN_PASSWORD,
# and PUBLIC_URL (the https origin the platform is reached at: webhooks and agent VMs' bridges are registered under it).
# For k8s also DATABASE_URL (the ConfigMap sets EVENT_STORE=postgres; compose builds its own from POSTGRES_PASSWORD).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-compose}"
image="${OPENCLAW_IMAGE:-openclaw-service:$(git rev-parse --short HEAD)}"

if [[ ! -f infra/.env ]]; then
  echo "infra/.env is missing: it holds the secrets (see the top of infra/deploy.sh)" >&2
  exit 2
fi
if ! grep -Eq '^PUBLIC_URL=["'\'']?https://' infra/.env; then
  echo "infra/.env has no PUBLIC_URL=https://…: Telegram, WhatsApp, Stripe and agent VMs could not reach the platform" >&2
  exit 2
fi
# The Kubernetes secret's keys: what the ConfigMap does not set and every role needs.
k8s_keys=(DATABASE_URL ENCRYPTION_KEY OPERATOR_API_KEY JWT_SECRET ORGO_API_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_PRICE_PRO STRIPE_PRICE_ENTERPRISE PUBLIC_URL)

# infra/.env with the values compose would read, one KEY=value a line, for kubectl's --from-env-file,
# which takes the rest of the line as it stands: quotes around a value are stripped here; what the two
# would read differently (an inline comment, a $ compose would substitute, an unclosed quote) is refused.
plain_env() {
  local line key value n=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ ! "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
      echo "infra/.env line $n is not KEY=value" >&2
      return 1
    fi
    key="${BASH_REMATCH[2]}" value="${BASH_REMATCH[3]}"
    if [[ "$value" =~ ^\'([^\']*)\'[[:space:]]*$ ]]; then
      value="${BASH_REMATCH[1]}"
    elif [[ "$value" =~ ^\"([^\"\\$]*)\"[[:space:]]*$ ]]; then
      value="${BASH_REMATCH[1]}"
    elif [[ "$value" =~ ^[\"\'] ]]; then
      echo "infra/.env line $n ($key): a quoted value must be one line, closed, with nothing after it (and, in double quotes, no \$ or \\; use single quotes)" >&2
      return 1
    elif [[ "$value" == *" #"* || "$value" == *$'\t#'* || "$value" == *'$'* ]]; then
      echo "infra/.env line $n ($key): compose would cut a ' #' comment or substitute a \$ here and kubectl would not; put the value in single quotes" >&2
      return 1
    else
      value="${value%"${value##*[![:space:]]}"}"
    fi
    printf '%s=%s\n' "$key" "$value"
  done < infra/.env
}

if [[ "$target" == k8s ]]; then
  secret_env="$(mktemp)"
  trap 'rm -f "$secret_env"' EXIT
  plain_env > "$secret_env" || exit 2
  missing=()
  for key in "${k8s_keys[@]}"; do grep -q "^$key=." "$secret_env" || missing+=("$key"); done
  if ((${#missing[@]} > 0)); then
    echo "infra/.env lacks ${missing[*]}: the Kubernetes secret needs it (see the top of infra/deploy.sh)" >&2
    exit 2
  fi
fi
if [[ ! -f infra/nginx/certs/tls.crt && "$target" == compose ]]; then
  echo "infra/nginx/certs/tls.crt and tls.key are missing (nginx serves TLS)" >&2
  exit 2
fi

docker build -f infra/Dockerfile -t "$image" .
case "$target" in
  compose)
    export OPENCLAW_IMAGE="$image"
    docker compose -f infra/docker-compose.yml --env-file infra/.env up -d postgres kurrentdb kafka redis
    docker compose -f infra/docker-compose.yml --env-file infra/.env run --rm migrate
    docker compose -f infra/docker-compose.yml --env-file infra/.env up -d --remove-orphans
    docker compose -f infra/docker-compose.yml --env-file infra/.env ps
    ;;
  k8s)
    : "${REGISTRY:?set REGISTRY to push the image to}"
    docker tag "$image" "$REGISTRY/$image" && docker push "$REGISTRY/$image"
    kubectl create namespace openclaw --dry-run=client -o yaml | kubectl apply -f -
    kubectl -n openclaw create secret generic openclaw-secrets --from-env-file="$secret_env" --dry-run=client -o yaml | kubectl apply -f -
    manifests="$(sed "s#image: openclaw-service:latest#image: $REGISTRY/$image#" infra/k8s/openclaw.yaml)"
    # A Job's pod template cannot be changed, and every deploy names a new image: the last deploy's
    # migration Job goes first. The ConfigMap and this image's migration (label openclaw.io/stage=migrate)
    # are applied and the migration runs to completion before any role is rolled out on the new image.
    kubectl -n openclaw delete job openclaw-migrate --ignore-not-found --wait=true
    printf '%s\n' "$manifests" | kubectl apply -l openclaw.io/stage=migrate -f -
    if ! kubectl -n openclaw wait --for=condition=complete job/openclaw-migrate --timeout=10m; then
      kubectl -n openclaw logs job/openclaw-migrate --tail=50 >&2 || true
      echo "the migration Job openclaw-migrate did not complete within 10 minutes: no role was rolled out" >&2
      exit 1
    fi
    printf '%s\n' "$manifests" | kubectl apply -l 'openclaw.io/stage!=migrate' -f -
    kubectl -n openclaw rollout status deployment --timeout=5m
    ;;
  *)
    echo "usage: infra/deploy.sh [compose|k8s]" >&2
    exit 2
    ;;
esac
