"""The deployment files cannot rot silently: every YAML under deploy/ parses, deploy/Dockerfile copies
files that exist and serves the code location's module, and the Helm values agree with the
Dockerfile, with deploy/dagster.yaml and with the chart, and give a run pod what Tipoff needs (built
with dagster-k8s's own job builder). No Docker engine or cluster is involved: this machine has
neither; docs/SCALING.md says what was and was not run."""
from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# Keys of Dagster's Helm chart (helm/dagster/schema: DagsterHelmValues, UserDeployment,
# K8sRunLauncherConfig, QueuedRunCoordinatorConfig, PostgreSQL), so a misspelt key -- which Helm
# would merge in silently -- fails here.
CHART_TOP = {"dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
             "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
             "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox",
             "migrate", "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig"}
CHART_DEPLOYMENT = {"name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
                    "port", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity",
                    "tolerations", "podSecurityContext", "securityContext", "resources", "livenessProbe",
                    "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes", "schedulerName"}
CHART_K8S_LAUNCHER = {"image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
                      "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
                      "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig"}
CHART_RUN_K8S_CONFIG = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
                        "podTemplateSpecMetadata": "pod_template_spec_metadata",
                        "jobSpecConfig": "job_spec_config", "jobMetadata": "job_metadata"}
CHART_QUEUED = {"maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
                "dequeueUseThreads"}
CHART_POSTGRESQL = {"image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword",
                    "postgresqlDatabase", "postgresqlParams", "postgresqlScheme", "service"}
CHART_GLOBAL = {"postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName"}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _user_deployment() -> dict:
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    return deployment


def _cmd() -> list[str]:
    (cmd,) = [json.loads(args) for word, args in _dockerfile() if word == "CMD"]
    return cmd


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO).as_posix() for p in DEPLOY.rglob("*.yaml")))
def test_every_deploy_yaml_parses(path):
    documents = list(yaml.safe_load_all((REPO / path).read_text()))
    assert documents and all(isinstance(d, dict) and d for d in documents), path


def test_dockerfile_copies_what_exists_and_installs_every_package():
    copied = []
    for word, args in _dockerfile():
        if word == "COPY":
            *sources, _dest = shlex.split(args)
            assert not any(s.startswith("--") for s in sources), "COPY flags: check them by hand"
            for source in sources:
                assert (REPO / source).exists(), f"deploy/Dockerfile copies {source}, which does not exist"
                copied.append(source.rstrip("/"))
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:  # a package added to pyproject but not copied would be missing
        assert pattern.rstrip("*") in copied, f"deploy/Dockerfile does not copy the package {pattern}"
    (install,) = [args for word, args in _dockerfile() if word == "RUN" and "pip install" in args]
    extras = re.search(r"\.\[([\w,]+)\]", install).group(1).split(",")
    assert set(extras) <= set(PYPROJECT["project"]["optional-dependencies"]), extras
    assert "k8s" in extras  # a run pod loads the instance, whose launcher is dagster-k8s's


def test_dockerfile_serves_the_code_location_without_an_entrypoint():
    assert not [w for w, _ in _dockerfile() if w == "ENTRYPOINT"], \
        "Kubernetes appends the chart's and K8sRunLauncher's container args to an ENTRYPOINT"
    cmd = _cmd()
    assert cmd[:3] == ["dagster", "code-server", "start"]
    module = cmd[cmd.index("-m") + 1]
    assert module == PYPROJECT["tool"]["dagster"]["module_name"]
    assert importlib.util.find_spec(module) is not None
    (exposed,) = [args for w, args in _dockerfile() if w == "EXPOSE"]
    assert cmd[cmd.index("-p") + 1] == exposed


def test_helm_values_use_the_chart_keys():
    values = _values()
    assert set(values) <= CHART_TOP
    assert set(values["global"]) <= CHART_GLOBAL
    assert set(_user_deployment()) <= CHART_DEPLOYMENT
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(launcher) <= CHART_K8S_LAUNCHER
    assert set(launcher["runK8sConfig"]) <= set(CHART_RUN_K8S_CONFIG)
    assert set(values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]) <= CHART_QUEUED
    assert set(values["postgresql"]) <= CHART_POSTGRESQL


def test_helm_values_agree_with_the_image_and_the_instance():
    values, deployment, cmd = _values(), _user_deployment(), _cmd()
    env = dict(a.split("=", 1) for w, args in _dockerfile() if w == "ENV" for a in shlex.split(args))
    # The chart runs `dagster code-server start -h 0.0.0.0 -p PORT ARGS`: the image's own command.
    assert ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"]),
            *deployment["codeServerArgs"]] == cmd
    assert values["global"]["dagsterHome"] == env["DAGSTER_HOME"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"

    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator = instance["run_coordinator"]["config"]
    assert queued["maxConcurrentRuns"] == coordinator["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == coordinator["tag_concurrency_limits"]
    assert values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]

    # The data root is on the mounted shared volume, which is the PVC of data-pvc.yaml.
    mount = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    claim = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]}
    pvc = yaml.safe_load((DEPLOY / "helm" / "data-pvc.yaml").read_text())
    (volume,) = [name for name, path in mount.items() if deployment["env"]["TIPOFF_DATA_DIR"].startswith(path + "/")]
    assert claim[volume] == pvc["metadata"]["name"] and "ReadWriteMany" in pvc["spec"]["accessModes"]


def test_every_environment_variable_the_deployment_sets_is_read_by_the_code():
    source = "\n".join(p.read_text() for pkg in ("tipoff_core", "resources", "pipeline_assets", "sensors")
                       for p in (REPO / pkg).rglob("*.py"))
    names = set(_user_deployment()["env"])
    names |= set(re.findall(r"--from-literal=(\w+)=", (DEPLOY / "helm" / "values.yaml").read_text()))
    assert {"ODDS_API_KEY", "TIPOFF_PREDICTIONS_URL", "TIPOFF_DATA_DIR"} <= names
    for name in names:
        assert f'"{name}"' in source, f"{name} is set by deploy/helm/values.yaml but no code reads it"


def test_a_run_pod_gets_the_volume_secret_and_resources():
    """Build the Kubernetes Job of a run the way K8sRunLauncher does, from the run launcher's values
    and the container context the chart derives from the user deployment."""
    pytest.importorskip("dagster_k8s", reason="dagster-k8s not installed: pip install -e '.[k8s]'")
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    values, deployment = _values(), _user_deployment()
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher_config = UserDefinedDagsterK8sConfig.from_dict(
        {CHART_RUN_K8S_CONFIG[k]: v for k, v in launcher["runK8sConfig"].items()})
    # What the chart's dagsterUserDeployments.k8sContainerContext helper puts in the code server's
    # DAGSTER_CONTAINER_CONTEXT, which every run of the location inherits.
    from_deployment = {"k8s": {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [f"tipoff-dagster-{deployment['name']}-user-env"],
        "env_secrets": [s["name"] for s in deployment["envSecrets"]],
        "volume_mounts": deployment["volumeMounts"], "volumes": deployment["volumes"]}}
    context = K8sContainerContext(
        image_pull_policy=launcher["imagePullPolicy"], run_k8s_config=launcher_config,
    ).merge(K8sContainerContext.create_from_config(from_deployment))
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=image, dagster_home=values["global"]["dagsterHome"],
                            instance_config_map="tipoff-dagster-instance"),
        args=["dagster", "api", "execute_run", "{}"], job_name="dagster-run-1", pod_name="dagster-run-1",
        component="run_worker", user_defined_k8s_config=context.run_k8s_config).to_dict()

    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image and container["args"][:3] == ["dagster", "api", "execute_run"]
    assert container["command"] is None  # the image's (absent) ENTRYPOINT would run first
    assert {m["mount_path"] for m in container["volume_mounts"]} >= {"/data"}
    assert any(v.get("persistent_volume_claim", {}) and v["persistent_volume_claim"]["claim_name"] == "tipoff-data"
               for v in pod["volumes"])
    assert {"tipoff-secrets"} <= {e["secret_ref"]["name"] for e in container["env_from"] if e.get("secret_ref")}
    assert container["resources"]["requests"]["memory"] == "2Gi"
    assert pod["security_context"]["fs_group"] == 1000
