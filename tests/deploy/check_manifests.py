#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renders the Helm chart with several value sets and the kustomize base, and
validates every object: built-in kinds against the Kubernetes schemas
(kubernetes-validate, strict), the KEDA and Prometheus Operator resources
against crd_schemas.json, plus what the chart promises (a pipeline change
rolls the workers, KEDA capped at the partition count, scraping that works
with the API token). Exits 1 on the first failure with a message saying what.

usage: check_manifests.py HELM CHART_DIR KUSTOMIZE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S_VERSION = "1.30.0"
checks = 0


def fail(msg):
    print(f"check_manifests: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)


def render(helm, chart, values, name="demo"):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(values, f)
        vfile = f.name
    try:
        out = subprocess.run([helm, "template", name, chart, "-f", vfile],
                             capture_output=True, text=True)
    finally:
        os.unlink(vfile)
    return out


def objects(text):
    return [d for d in yaml.safe_load_all(text) if d]


def validate(objs, where, crd_schemas):
    for o in objs:
        kind, api = o.get("kind"), o.get("apiVersion")
        label = f"{where}: {kind}/{o.get('metadata', {}).get('name')}"
        key = f"{api}/{kind}"
        if key in crd_schemas:
            try:
                jsonschema.validate(o, crd_schemas[key])
            except jsonschema.ValidationError as e:
                fail(f"{label}: {e.message} at {'/'.join(map(str, e.absolute_path))}")
        else:
            try:
                kubernetes_validate.validate(o, K8S_VERSION, strict=True)
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                fail(f"{label}: no schema for {key} ({e})")
            except kubernetes_validate.ValidationError as e:
                fail(f"{label}: {e.message} at {'/'.join(map(str, e.path))}")
        ok(True, label)


def find(objs, kind, suffix):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"].endswith(suffix):
            return o
    return None


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    helm, chart, kdir = sys.argv[1:]
    with open(os.path.join(HERE, "crd_schemas.json")) as f:
        crd_schemas = {k: v for k, v in json.load(f).items() if not k.startswith("_")}

    full = {
        "apiToken": {"token": "t0ken"},
        "gateway": {"enabled": True},
        "autoscaling": {"enabled": True, "maxReplicas": 50},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
        "pipeline": {"partitions": 12, "set": {"window": "5s"}},
    }
    sets = {
        "defaults": {},
        "everything": full,
        "existing-secrets": {"redis": {"existingSecret": "ops-redis"},
                             "apiToken": {"existingSecret": "ops-token"},
                             "metrics": {"serviceMonitor": {"enabled": True}}},
        "no-api": {"api": {"enabled": False}},
    }
    rendered = {}
    for name, values in sets.items():
        out = render(helm, chart, values)
        ok(out.returncode == 0, f"helm template ({name}) failed: {out.stderr}")
        rendered[name] = objects(out.stdout)
        validate(rendered[name], f"chart ({name})", crd_schemas)

    d, e = rendered["defaults"], rendered["everything"]
    w = find(d, "Deployment", "-worker")
    ok(w is not None, "defaults: no worker Deployment")
    ok(w["spec"]["replicas"] == 3, "defaults: worker replicas should be 3")
    ann = w["spec"]["template"]["metadata"]["annotations"]
    ok("checksum/pipeline" in ann, "worker pods carry no checksum/pipeline annotation")
    ok(ann.get("prometheus.io/scrape") == "true",
       "without a token the workers should carry prometheus.io annotations")
    ok(find(d, "ScaledObject", "-worker") is None, "defaults: KEDA must be off")
    ok(find(d, "Deployment", "-gateway") is None, "defaults: gateway must be off")
    sec = find(d, "Secret", "")
    ok(sec is not None and "redis-url" in sec["stringData"]
       and "api-token" not in sec["stringData"], "defaults: Secret should hold only redis-url")

    # A pipeline change rolls the workers; another value does not.
    changed = render(helm, chart, {"pipeline": {"file": "-- changed\n"}})
    ok(changed.returncode == 0, changed.stderr)
    w2 = find(objects(changed.stdout), "Deployment", "-worker")
    ok(w2["spec"]["template"]["metadata"]["annotations"]["checksum/pipeline"]
       != ann["checksum/pipeline"], "a pipeline change must change checksum/pipeline")
    same = render(helm, chart, {"api": {"replicas": 5}})
    w3 = find(objects(same.stdout), "Deployment", "-worker")
    ok(w3["spec"]["template"]["metadata"]["annotations"]["checksum/pipeline"]
       == ann["checksum/pipeline"], "an unrelated value must not roll the workers")

    # KEDA: capped at the partitions, owns the replica count.
    so = find(e, "ScaledObject", "-worker")
    ok(so is not None, "everything: no ScaledObject")
    ok(so["spec"]["maxReplicaCount"] == 12, "KEDA maxReplicaCount must be capped at 12 partitions")
    trig = so["spec"]["triggers"][0]
    ok(trig["type"] == "kafka" and trig["metadata"]["consumerGroup"] == "assembly-line",
       "KEDA must scale on the pipeline's consumer group lag")
    we = find(e, "Deployment", "-worker")
    ok("replicas" not in we["spec"], "with KEDA the worker Deployment must not set replicas")
    ok(any(a == "--set" for a in we["spec"]["template"]["spec"]["containers"][0]["args"])
       and "window=5s" in we["spec"]["template"]["spec"]["containers"][0]["args"],
       "pipeline.set must become --set KEY=VALUE")
    # With a token: no annotation scraping (it would get 401), ServiceMonitor sends it.
    ok("prometheus.io/scrape" not in we["spec"]["template"]["metadata"]["annotations"],
       "with a token the prometheus.io annotations must be left out")
    for comp in ("-worker", "-api"):
        sm = find(e, "ServiceMonitor", comp)
        ok(sm is not None, f"everything: no ServiceMonitor{comp}")
        auth = sm["spec"]["endpoints"][0].get("authorization", {})
        ok(auth.get("credentials", {}).get("key") == "api-token",
           f"ServiceMonitor{comp} must send the API token")
        ok(sm["metadata"]["labels"].get("release") == "prom",
           "serviceMonitor.labels must reach the ServiceMonitor")
    env = {x["name"]: x for x in we["spec"]["template"]["spec"]["containers"][0]["env"]}
    ok("SLUICE_API_TOKEN" in env and "SLUICE_REDIS_URL" in env, "worker env misses the secrets")
    ok(find(e, "Deployment", "-gateway") is not None, "everything: gateway must be on")
    ok(find(e, "PodDisruptionBudget", "-gateway") is not None, "gateway PDB missing")

    x = rendered["existing-secrets"]
    ok(find(x, "Secret", "") is None, "existing secrets: the chart must not write a Secret")
    env = {v["name"]: v for v in
           find(x, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]["env"]}
    ok(env["SLUICE_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "ops-redis",
       "redis.existingSecret must be used")
    ok(env["SLUICE_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "ops-token",
       "apiToken.existingSecret must be used")
    ok(find(rendered["no-api"], "Deployment", "-api") is None, "api.enabled=false must drop the API")

    # Values that cannot work are refused at render time.
    bad = render(helm, chart, {"autoscaling": {"enabled": True, "minReplicas": 20},
                               "pipeline": {"partitions": 12}})
    ok(bad.returncode != 0 and "minReplicas" in bad.stderr,
       "minReplicas above the partition count must be refused")
    bad = render(helm, chart, {"redis": {"url": ""}})
    ok(bad.returncode != 0 and "redis.url" in bad.stderr, "an empty redis.url must be refused")

    # The kustomize base: every resource it lists, as kubectl would apply it.
    with open(os.path.join(kdir, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    for res in kust["resources"]:
        with open(os.path.join(kdir, res)) as f:
            validate(objects(f.read()), f"kustomize {res}", crd_schemas)
    with open(os.path.join(kdir, "secret.example.yaml")) as f:
        validate(objects(f.read()), "kustomize secret.example.yaml", crd_schemas)

    print(f"check_manifests: {checks} checks passed")


if __name__ == "__main__":
    main()
