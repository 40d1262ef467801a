"""The Helm chart, rendered with Helm's own engine (helm-python-sdk) and every manifest checked
against the Kubernetes API schemas (kubernetes-validate, offline). Beyond "it renders", the chart
must run what the Procfile runs, redundantly, hardened, behind default-deny network policies, with
migrations before any new pod starts — and refuse values that are wrong."""

from __future__ import annotations

import re
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from cityline_common.amqp.topology import DLQ_MAX_LENGTH, UNROUTED_MAX_LENGTH
from cityline_common.manifest import all_processes

from testsupport import ROOT, procfile

CHART = ROOT / "deploy" / "helm" / "cityline"
KUBERNETES_VERSIONS = ("1.27", "1.30", "1.33")  # the oldest the chart supports (kubeVersion) to recent
REQUIRED = {"existingSecret": "cityline-secrets", "signingKeySecret": "cityline-admin-signing-key"}
WORKLOAD_KINDS = {"Deployment", "CronJob", "Job"}


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render({**REQUIRED, **(values or {})}, name="itami", namespace="cityline",
                             is_install=True)
    documents = []
    for path, text in files.items():
        if path.endswith(".yaml"):
            documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return documents


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


WITH_INGRESS = {"ingress": {"enabled": True, "webhookHost": "line.city.itami.lg.jp",
                            "adminHost": "admin.city.itami.lg.jp", "tls": {"secretName": "tls"},
                            "adminAnnotations": {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"}}}


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def manifests_with_ingress() -> list[dict[str, Any]]:
    return render(WITH_INGRESS)


def test_helm_lint_finds_no_errors():
    result = helm.lint(str(CHART), REQUIRED, strict=True)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1 and "icon" not in m["error"]] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_kubernetes(manifests, manifests_with_ingress, version):
    for document in manifests_with_ingress:
        kubernetes_validate.validate(document, version, strict=True)
    assert {doc["kind"] for doc in manifests} >= {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget",
                                                 "HorizontalPodAutoscaler", "NetworkPolicy", "CronJob", "Job",
                                                 "ServiceAccount"}


def _as_deployed(argv: list[str]) -> list[str]:
    """A Procfile command as the image runs it: ${VAR:-default} ports become the chart's fixed ports."""
    return [re.sub(r"^\$\{[A-Z_]+:-(\d+)\}$", r"\1", part) for part in argv]


def test_the_chart_runs_every_process_of_the_procfile(manifests):
    commands = []
    for kind in ("Deployment", "CronJob"):
        for workload in by_kind(manifests, kind).values():
            (container,) = pod_spec(workload)["containers"]
            commands.append(container["command"])
    local_only = {"emulator", "demo"}  # the LINE stand-in and the demo residents never run in a city
    cron = {process.name for process in all_processes() if process.kind == "cron"}
    assert {"ingress-housekeeping", "admin-housekeeping"} <= cron
    for name, argv in procfile().items():
        if name in local_only:
            continue
        expected = _as_deployed(argv)
        if name in cron:  # a loop locally; one sweep per CronJob run in the cluster
            expected = [*expected, "--once"]
        assert expected in commands, f"Procfile process {name!r} ({expected}) is not run by the chart: {commands}"
    assert len(commands) == len(procfile()) - len(local_only)


def test_workloads_are_redundant_and_probed(manifests):
    deployments = by_kind(manifests, "Deployment")
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler")
    budgets = by_kind(manifests, "PodDisruptionBudget")
    assert len(deployments) == 12
    for name, deployment in deployments.items():
        replicas = autoscalers[name]["spec"]["minReplicas"] if name in autoscalers else deployment["spec"]["replicas"]
        assert replicas >= 2, name
        assert "replicas" not in deployment["spec"] or name not in autoscalers  # the HPA owns the count
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]
        assert 1 <= budgets[name]["spec"]["minAvailable"] < replicas
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        spec = pod_spec(deployment)
        assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {"topology.kubernetes.io/zone",
                                                                                 "kubernetes.io/hostname"}
        (container,) = spec["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        (port,) = container["ports"]
        # The port the process listens on is the port the probes and the Service use.
        if "--http-port" in container["command"]:
            assert container["command"][container["command"].index("--http-port") + 1] == str(port["containerPort"])
        else:
            env = {e["name"]: e["value"] for e in container["env"]}
            assert str(port["containerPort"]) in [v for k, v in env.items() if k.endswith("_PORT")]
    assert autoscalers["itami-cityline-ingress-webhook"]["spec"]["minReplicas"] >= 3


def test_pods_are_hardened_and_take_secrets_only_by_reference(manifests):
    for workload in [doc for doc in manifests if doc["kind"] in WORKLOAD_KINDS]:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # read-only root
            assert {"secretRef": {"name": "cityline-secrets"}} in container["envFrom"]
            for variable in container.get("env", []):
                assert not re.search(r"SECRET|TOKEN|KEY|PASSWORD|DATABASE_URL|AMQP_URL", variable["name"])
    (config,) = by_kind(manifests, "ConfigMap").values()
    assert not [key for key in config["data"] if re.search(r"SECRET|TOKEN|KEYS?$|PASSWORD", key)]
    assert config["data"]["SEGMENT_SERVICE_URL"] == "http://itami-cityline-segment-service:8002"
    assert config["data"]["BIND_HOST"] == "0.0.0.0"


def test_only_admin_ui_gets_the_internal_token_signing_key(manifests):
    """Every pod verifies internal API tokens; only admin-ui and dispatcher's and richmenu-service's processes
    (which call segment-service) sign them, so only their pods get the Secret with INTERNAL_TOKEN_SIGNING_KEY (a
    leak from any other pod cannot forge a token)."""
    signing = {"secretRef": {"name": "cityline-admin-signing-key"}}
    holders = []
    for workload in [doc for doc in manifests if doc["kind"] in WORKLOAD_KINDS]:
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            if signing in container["envFrom"]:
                holders.append(workload["metadata"]["name"])
    assert sorted(holders) == ["itami-cityline-admin-ui", "itami-cityline-dispatcher",
                               "itami-cityline-dispatcher-scheduler", "itami-cityline-dispatcher-sender",
                               "itami-cityline-richmenu-consumer", "itami-cityline-richmenu-service",
                               "itami-cityline-richmenu-worker"]
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert [name for name, spec in values["components"].items() if spec.get("signsInternalTokens")] == [
        "richmenuService", "richmenuConsumer", "richmenuWorker", "dispatcher", "dispatcherSender",
        "dispatcherScheduler", "adminUi"]


def test_migrations_run_as_a_hook_before_pods_of_a_release_start(manifests):
    (job,) = by_kind(manifests, "Job").values()
    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    spec = pod_spec(job)
    assert [c["command"] for c in spec["initContainers"]] == [["cityline-migrate"]]
    assert [c["command"] for c in spec["containers"]] == [["cityline-topology"]]
    # A hook runs before the release's ConfigMap and ServiceAccount exist on a first install.
    assert "serviceAccountName" not in spec
    assert all("configMapRef" not in ref for c in spec["initContainers"] + spec["containers"] for ref in c["envFrom"])


def test_network_policies_deny_by_default_and_allow_named_callers(manifests):
    policies = by_kind(manifests, "NetworkPolicy")
    deny = policies.pop("itami-cityline-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]

    def callers(name: str) -> list[dict[str, Any]]:
        (rule,) = policies[f"itami-cityline-{name}"]["spec"]["ingress"]
        return rule["from"]

    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    # admin-ui's status page probes every component; nobody else reaches the workers.
    assert callers("outbox-relay") == [monitoring, ADMIN_UI]
    assert callers("segment-consumer") == [monitoring, ADMIN_UI]
    # The public webhook: the ingress controller, Prometheus and the status page, no other pod.
    assert callers("ingress-webhook") == [monitoring, ADMIN_UI, controller]
    assert callers("admin-ui") == [monitoring, ADMIN_UI, controller]
    assert ADMIN_UI in callers("segment-service") and controller not in callers("segment-service")
    assert callers("segment-service").count(ADMIN_UI) == 1  # listed in allowFrom too, admitted once
    for rule in (policies[name]["spec"]["ingress"][0] for name in policies):
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


ADMIN_UI = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "cityline", "app.kubernetes.io/instance":
                                            "itami", "app.kubernetes.io/component": "admin-ui"}}}


def _camel(name: str) -> str:
    first, *rest = name.split("-")
    return first + "".join(part.title() for part in rest)


def test_the_status_page_reaches_every_process_it_shows(manifests):
    """admin-ui's システム状態 asks /readyz of every labelled process of the manifests: each must be
    a component whose network policy admits admin-ui on its http port."""
    policies = by_kind(manifests, "NetworkPolicy")
    services = by_kind(manifests, "Service")
    components = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["components"]
    shown = [process for process in all_processes() if process.label is not None]
    assert {process.name for process in shown} >= {"ingress-webhook", "segment-service", "segment-consumer",
                                                   "richmenu-service", "dispatcher", "admin-ui", "outbox-relay"}
    for process in shown:
        assert _camel(process.name) in components, process.name
        name = f"itami-cityline-{process.name}"
        (rule,) = policies[name]["spec"]["ingress"]
        assert ADMIN_UI in rule["from"], f"admin-ui cannot reach {process.name}'s /readyz"
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        assert name in services, f"the status page finds {process.name} at its Service"


def _rules(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (rule,) = by_kind(documents, "PrometheusRule").values()
    return {each["alert"]: each for group in rule["spec"]["groups"] for each in group["rules"]}


def test_alert_rules_are_off_by_default(manifests):
    assert "PrometheusRule" not in {doc["kind"] for doc in manifests}


def test_alert_rules_watch_dead_letters_unrouted_messages_and_the_outbox():
    documents = render({"metrics": {"prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus"}}}})
    (rule,) = by_kind(documents, "PrometheusRule").values()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "itami-cityline"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"
    rules = _rules(documents)
    assert set(rules) == {"DeadLettersPresent", "DeadLetterQueueNearlyFull", "UnroutedMessages",
                          "UnroutedNearlyFull", "OutboxBacklogOld"}
    # In PromQL's string "\\." is the regex \. : a dot, not any character.
    dlq, unrouted = r'cityline_queue_messages{queue=~".+\\.dlq"}', r'cityline_queue_messages{queue=~".+\\.unrouted"}'
    assert dlq in rules["DeadLettersPresent"]["expr"] and rules["DeadLettersPresent"]["expr"].endswith("> 0")
    assert rules["DeadLettersPresent"]["for"] == "10m"
    assert dlq in rules["DeadLetterQueueNearlyFull"]["expr"]
    assert rules["DeadLetterQueueNearlyFull"]["expr"].endswith(f"> 0.8 * {DLQ_MAX_LENGTH}")
    assert rules["DeadLetterQueueNearlyFull"]["labels"]["severity"] == "critical"
    assert unrouted in rules["UnroutedMessages"]["expr"] and rules["UnroutedMessages"]["for"] == "30m"
    assert rules["UnroutedNearlyFull"]["expr"].endswith(f"> 0.8 * {UNROUTED_MAX_LENGTH}")
    assert unrouted in rules["UnroutedNearlyFull"]["expr"]
    backlog = rules["OutboxBacklogOld"]["expr"]
    assert "time() - cityline_outbox_oldest_pending_created_timestamp_seconds > 300" in backlog
    assert "and cityline_outbox_oldest_pending_created_timestamp_seconds > 0" in backlog
    for name, each in rules.items():
        assert each["labels"]["severity"] in {"warning", "critical"}, name
        assert {"summary", "description", "runbook"} <= set(each["annotations"]), name
        assert "cityline-dlq" in each["annotations"]["runbook"], name
        assert "{{ $labels." in each["annotations"]["summary"], name  # Prometheus' templating survives Helm's


def test_alert_thresholds_are_values():
    documents = render({"metrics": {"prometheusRule": {
        "enabled": True, "nearlyFullRatio": 0.5, "deadLettersFor": "1h", "outboxBacklogSeconds": 60}}})
    rules = _rules(documents)
    assert rules["DeadLetterQueueNearlyFull"]["expr"].endswith(f"> 0.5 * {DLQ_MAX_LENGTH}")
    assert rules["DeadLettersPresent"]["for"] == "1h"
    assert "> 60" in rules["OutboxBacklogOld"]["expr"]


def test_only_the_webhook_path_is_public(manifests_with_ingress):
    ingresses = by_kind(manifests_with_ingress, "Ingress")
    (webhook_path,) = ingresses["itami-cityline-webhook"]["spec"]["rules"][0]["http"]["paths"]
    assert (webhook_path["path"], webhook_path["pathType"]) == ("/callback", "Exact")
    assert webhook_path["backend"]["service"]["name"] == "itami-cityline-ingress-webhook"
    admin = ingresses["itami-cityline-admin"]
    assert admin["metadata"]["annotations"]["nginx.ingress.kubernetes.io/whitelist-source-range"] == "10.0.0.0/8"
    assert "whitelist-source-range" not in str(ingresses["itami-cityline-webhook"]["metadata"])


def test_pods_roll_when_settings_change(manifests):
    def checksums(documents: list[dict[str, Any]]) -> set[str]:
        return {pod_template["metadata"]["annotations"]["checksum/config"]
                for doc in documents if doc["kind"] == "Deployment"
                for pod_template in [doc["spec"]["template"]]}

    before = checksums(manifests)
    assert len(before) == 1
    assert checksums(render({"config": {"LOG_LEVEL": "DEBUG"}})).isdisjoint(before)


def _values_with(path: str, value: Any) -> dict[str, Any]:
    """``a.b.c`` = value as nested values; Helm merges them over values.yaml."""
    values: dict[str, Any] = {}
    *parents, last = path.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return values


@pytest.mark.parametrize(("values", "reason"), [
    ({"existingSecret": ""}, "existingSecret is required"),
    ({"signingKeySecret": ""}, "signingKeySecret is required"),
    ({"signingKeySecret": "cityline-secrets"}, "signingKeySecret must be a Secret of its own"),
    (_values_with("components.adminUi.replicaCount", 0), "minimum"),
    (_values_with("components.adminUi.port", "eight thousand"), "port"),
    (_values_with("components.adminUi.bogus", True), "bogus"),
    (_values_with("config.LOG_LEVEL", "LOUD"), "LOG_LEVEL"),
    (_values_with("image.digest", "latest"), "digest"),
    (_values_with("components.dispatcher.pdb.minAvailable", 2), "pdb.minAvailable (2) must be below its replicas"),
    (_values_with("components.dispatcher.allowFrom", ["mallory"]), '"mallory" is neither a component'),
    ({"ingress": {"enabled": True}}, "ingress.enabled needs"),
    (_values_with("metrics.prometheusRule.nearlyFullRatio", 2), "nearlyFullRatio"),
    (_values_with("metrics.prometheusRule.deadLettersFor", "ten minutes"), "deadLettersFor"),
])
def test_wrong_values_are_refused_with_a_reason(values, reason):
    with pytest.raises(helm.HelmError, match=re.escape(reason)):
        render(values)


WITH_LIFF = {**WITH_INGRESS, "liff": {"host": "liff.city.itami.lg.jp"},
             "config": {"LINE_LOGIN_CHANNEL_ID": "2000000001", "LIFF_ID": "2000000001-AbCdEfGh"}}


def test_only_the_liff_page_of_segment_service_is_public_on_its_own_host():
    documents = render(WITH_LIFF)
    ingresses = by_kind(documents, "Ingress")
    liff = ingresses["itami-cityline-liff"]
    (rule,) = liff["spec"]["rules"]
    assert rule["host"] == "liff.city.itami.lg.jp"
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/liff/", "Prefix")
    assert path["backend"]["service"]["name"] == "itami-cityline-segment-service"
    assert liff["spec"]["tls"] == [{"hosts": ["liff.city.itami.lg.jp"], "secretName": "tls"}]
    # No other Ingress reaches segment-service, and no other host serves /liff/.
    for name, ingress in ingresses.items():
        backends = [p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
        assert ("itami-cityline-segment-service" in backends) == (name == "itami-cityline-liff"), name
    # The ingress controller may now reach segment-service (and only because of the LIFF host).
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    (allowed,) = by_kind(documents, "NetworkPolicy")["itami-cityline-segment-service"]["spec"]["ingress"]
    assert controller in allowed["from"]
    config = by_kind(documents, "ConfigMap")["itami-cityline"]["data"]
    assert config["LINE_LOGIN_CHANNEL_ID"] == "2000000001" and config["LINE_LOGIN_API_BASE_URL"] == "https://api.line.me"
    assert "LIFF_MOCK" not in config
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(liff, version, strict=True)


@pytest.mark.parametrize(("values", "reason"), [
    ({"liff": {"host": "liff.city.itami.lg.jp"}}, "liff.host needs ingress.enabled"),
    ({**WITH_INGRESS, "liff": {"host": "liff.city.itami.lg.jp"}}, "liff.host needs config.LINE_LOGIN_CHANNEL_ID"),
    ({**WITH_LIFF, "config": {**WITH_LIFF["config"], "LIFF_MOCK": "true"}}, "LIFF_MOCK"),
])
def test_a_liff_host_needs_the_ingress_and_a_login_channel(values, reason):
    with pytest.raises(helm.HelmError, match=re.escape(reason)):
        render(values)
