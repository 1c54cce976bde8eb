#!/usr/bin/env bash
# Deploys Pensieve to Azure: Container Apps (0 → N replicas) + Cosmos DB for MongoDB vCore + Key
# Vault, from this checkout. The image is built in Azure (az acr build): no Docker needed here.
#
#   az login
#   PENSIEVE_AZURE_NAME=pensieve-ada deploy/azure/deploy.sh
#
# Settings (environment):
#   PENSIEVE_AZURE_NAME        required; 3-24 lowercase letters, digits and hyphens; the app's name
#   PENSIEVE_AZURE_LOCATION    region, default westeurope
#   PENSIEVE_AZURE_RG          resource group, default <name>-rg
#   PENSIEVE_AZURE_MONGO_TIER  vCore compute tier, default M10 (Free where offered, M20, M30 …)
#   PENSIEVE_AZURE_MAX_REPLICAS  default 5
#   PENSIEVE_AZURE_DEPLOYER_ID object id allowed to read the secrets back on the next run; default
#                              the signed-in user (a service principal must set it)
#   PENSIEVE_IMAGE_TAG         default <git commit>-<time>: every run deploys a new revision
#
# Running it again updates everything in place and deploys the current code; the secrets made on
# the first run are read back from the vault and kept.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
name="${PENSIEVE_AZURE_NAME:?set PENSIEVE_AZURE_NAME, e.g. pensieve-ada (lowercase letters, digits, hyphens)}"
location="${PENSIEVE_AZURE_LOCATION:-westeurope}"
rg="${PENSIEVE_AZURE_RG:-$name-rg}"
tier="${PENSIEVE_AZURE_MONGO_TIER:-M10}"
max_replicas="${PENSIEVE_AZURE_MAX_REPLICAS:-5}"
tag="${PENSIEVE_IMAGE_TAG:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo build)-$(date +%Y%m%d%H%M%S)}"

if ! [[ "$name" =~ ^[a-z][a-z0-9-]{1,22}[a-z0-9]$ ]]; then
  echo "PENSIEVE_AZURE_NAME must be 3-24 lowercase letters, digits and hyphens, starting with a letter" >&2
  exit 2
fi
for tool in az openssl curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

echo "== resource group $rg ($location)"
az group create --name "$rg" --location "$location" --tags app=pensieve --output none

# Secrets: the vault's from an earlier run, or new ones. They reach Azure in a parameters file
# only this user can read, never on a command line.
vault="$(az keyvault list --resource-group "$rg" --query "[?tags.app=='pensieve'].name | [0]" \
  --output tsv 2>/dev/null || true)"
read_secret() {
  if [ -n "$vault" ]; then
    az keyvault secret show --vault-name "$vault" --name "$1" --query value --output tsv 2>/dev/null || true
  fi
}
mongo_password="$(read_secret mongo-admin-password)"
jwt_secret="$(read_secret jwt-secret)"
if [ -z "$mongo_password" ]; then
  echo "== new MongoDB administrator password"
  mongo_password="$(openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32)Aa9"
fi
if [ -z "$jwt_secret" ]; then
  echo "== new JWT secret"
  jwt_secret="$(openssl rand -base64 48 | tr -d '\n')"
fi
deployer="${PENSIEVE_AZURE_DEPLOYER_ID:-$(az ad signed-in-user show --query id --output tsv 2>/dev/null || true)}"

params="$(umask 077 && mktemp)"
trap 'rm -f "$params"' EXIT

# $1: a label, $2: the image, or '' for the infrastructure alone. Prints the deployment's name.
deploy() {
  cat >"$params" <<JSON
{
  "\$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "name": { "value": "$name" },
    "location": { "value": "$location" },
    "image": { "value": "$2" },
    "mongoTier": { "value": "$tier" },
    "maxReplicas": { "value": $max_replicas },
    "deployerPrincipalId": { "value": "$deployer" },
    "mongoAdminPassword": { "value": "$mongo_password" },
    "jwtSecret": { "value": "$jwt_secret" }
  }
}
JSON
  local deployment
  deployment="pensieve-$1-$(date +%Y%m%d%H%M%S)"
  az deployment group create --resource-group "$rg" --name "$deployment" \
    --template-file "$here/main.bicep" --parameters "@$params" --output none
  echo "$deployment"
}
output() { # $1: deployment, $2: output name
  az deployment group show --resource-group "$rg" --name "$1" \
    --query "properties.outputs.$2.value" --output tsv
}

echo "== infrastructure: identity, registry, Key Vault, MongoDB vCore cluster, environment"
echo "   (the first run waits for the cluster: ten minutes or more)"
infra="$(deploy infra "")"
registry="$(output "$infra" registryName)"
login_server="$(output "$infra" registryLoginServer)"

echo "== image $login_server/pensieve:$tag, built in Azure from $root"
az acr build --registry "$registry" --image "pensieve:$tag" --file "$root/Dockerfile" "$root"

echo "== the container app"
app="$(deploy app "$login_server/pensieve:$tag")"
url="$(output "$app" publicUrl)"

echo "== waiting for $url/readyz (a cold start from zero replicas takes a few seconds)"
for _ in $(seq 1 60); do
  if curl -fsS --max-time 10 "$url/readyz" >/dev/null 2>&1; then
    echo "Pensieve is up: $url"
    echo "MCP endpoint for AI clients: $url/mcp"
    exit 0
  fi
  sleep 5
done
echo "$url/readyz did not answer 200 yet; see: az containerapp logs show -g $rg -n $name --follow" >&2
exit 1
