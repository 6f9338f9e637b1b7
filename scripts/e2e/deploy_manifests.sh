#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Renders the Helm chart (deploy/helm/sluice) and the kustomize base
# (deploy/kubernetes), runs `helm lint --strict`, and validates every object
# against the Kubernetes schemas and the chart's promises
# (tests/deploy/check_manifests.py). The tools come from the package
# registries on the first run and are reused from .cache/tools afterwards:
#   helm                 `go install helm.sh/helm/v4/cmd/helm@$HELM_VERSION`
#                        (the Go module proxy; needs Go >= 1.24)
#   kubernetes-validate  PyPI, in a virtualenv (it carries the schemas)
set -euo pipefail

root=${SLUICE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tools="$root/.cache/tools"
helm_version=v4.3.2
kv_version=1.37.0
helm="$tools/bin/helm"

# `go install` leaves no patch version in `helm version`: a stamp file says
# which one was built.
if [[ ! -x "$helm" || "$(cat "$helm.version" 2>/dev/null)" != "$helm_version" ]]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "deploy_manifests: 'go' not found; helm $helm_version is built from the Go module proxy (Go >= 1.24)" >&2
    exit 1
  fi
  echo "deploy_manifests: building helm $helm_version (first run only)"
  mkdir -p "$tools/bin"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v4/cmd/helm@$helm_version"
  echo "$helm_version" >"$helm.version"
fi

venv="$tools/kubernetes-validate-$kv_version"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
  echo "deploy_manifests: installing kubernetes-validate $kv_version (first run only)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==$kv_version"
fi

chart="$root/deploy/helm/sluice"
echo "deploy_manifests: helm lint --strict"
"$helm" lint --strict "$chart"
"$helm" lint --strict "$chart" --set gateway.enabled=true,autoscaling.enabled=true \
  --set metrics.serviceMonitor.enabled=true,apiToken.token=x

"$venv/bin/python" "$root/tests/deploy/check_manifests.py" "$helm" "$chart" "$root/deploy/kubernetes"
echo "deploy_manifests: ok"
