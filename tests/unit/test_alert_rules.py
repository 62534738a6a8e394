"""pgha's alert rules (roles/monitoring/templates/pgha_rules.yml.j2), rendered
as the monitoring role renders them, checked and unit-tested with promtool
(`make unit` unpacks it from Debian's prometheus package and sets PGHA_PROMTOOL)."""
import os
import shutil
import subprocess

import jinja2
import pytest
import yaml

from ansible_collections.pgha.cluster.plugins.module_utils.alerts import DURATIONS, THRESHOLDS, durations, thresholds
from ansible_collections.pgha.cluster.plugins.module_utils.alerts import scrape_timeout

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "roles", "monitoring", "templates", "pgha_rules.yml.j2")
TESTS = os.path.join(os.path.dirname(__file__), "rules", "pgha_rules_test.yml")


def render(**values):
    env = jinja2.Environment(variable_start_string="[[", variable_end_string="]]", trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    with open(TEMPLATE) as handle:
        template = env.from_string(handle.read())
    context = dict(cluster="main", thresholds=thresholds(), durations=durations(), delayed=["pg4"], expected_standbys=2)
    context.update(values)
    return template.render(**context)


def promtool():
    path = os.environ.get("PGHA_PROMTOOL")
    if not path:
        pytest.skip("PGHA_PROMTOOL is not set (make unit sets it)")
    assert os.access(path, os.X_OK), "PGHA_PROMTOOL=%s is not an executable" % path
    return path


def test_the_rules_are_yaml_with_every_alert_named_and_explained():
    rules = [r for g in yaml.safe_load(render())["groups"] for r in g["rules"]]
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_thresholds_and_durations_reach_the_rules():
    text = render(thresholds=thresholds({"lag_bytes": 12345, "backup_max_age_hours": 2}),
                  durations=durations({"down": "17s"}))
    assert "> 12345" in text and "> 7200" in text and "for: 17s" in text
    # No delayed replica: no exclusion.
    assert 'standby!~' not in render(delayed=[])
    assert 'standby!~"pg4|pg5"' in render(delayed=["pg4", "pg5"])


def test_every_threshold_and_duration_is_used():
    text = open(TEMPLATE).read()
    for name in THRESHOLDS:
        if name == "drill_max_age_days" or name == "backup_max_age_hours":
            assert "thresholds.%s" % name in text
        else:
            assert "thresholds.%s ]]" % name in text, name
    for name in DURATIONS:
        assert "durations.%s ]]" % name in text, name


def test_promtool_checks_the_rules(tmp_path):
    path = tmp_path / "pgha_rules.yml"
    path.write_text(render())
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_every_alert(tmp_path):
    (tmp_path / "pgha_rules.yml").write_text(render())
    shutil.copy(TESTS, tmp_path / "pgha_rules_test.yml")
    result = subprocess.run([promtool(), "test", "rules", str(tmp_path / "pgha_rules_test.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_cover_every_alert():
    alerts = [r["alert"] for g in yaml.safe_load(render())["groups"] for r in g["rules"]]
    with open(TESTS) as handle:
        tested = {t["alertname"] for case in yaml.safe_load(handle)["tests"] for t in case.get("alert_rule_test", [])
                  if t.get("exp_alerts")}
    # Rules whose condition needs hours of series are checked by promtool check rules only.
    untested = set(alerts) - tested - {"PghaDiskFullSoon", "PghaRestoreDrillTooOld", "PghaBackupMetricsStale",
                                       "PghaReplicationFlushLagBytes", "PghaReplicationLagSeconds", "PghaPgBouncerDown"}
    assert not untested, "no promtool test fires %s" % ", ".join(sorted(untested))


PROMETHEUS = os.path.join(ROOT, "roles", "monitoring", "templates", "prometheus.yml.j2")


def render_prometheus(interval, rules):
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["pgha.cluster.node_addresses"] = lambda hosts, hostvars: dict((h, "10.0.0.%d" % i)
                                                                              for i, h in enumerate(hosts, 1))
    env.filters["bool"] = bool
    env.filters["pgha.cluster.scrape_timeout"] = scrape_timeout
    with open(PROMETHEUS) as handle:
        text = env.from_string(handle.read()).render(
            ansible_managed="test", __monitoring_hosts=["pg1", "pooler1"], hostvars={}, __monitoring_address="10.0.0.9",
            monitoring_alertmanager_port=9093, monitoring_prometheus_port=9090, inventory_hostname="monitor1",
            pgha_cluster_name="main", groups={"pgha_postgresql": ["pg1"], "pgha_pgbouncer": ["pooler1"]},
            monitoring_node_exporter_port=9100, monitoring_postgres_exporter_port=9187,
            monitoring_pgbouncer_exporter_port=9127, __monitoring_scheme="http", monitoring_exporter_tls=False,
            monitoring_scrape_interval=interval)
    return text.replace("/etc/prometheus/pgha_rules.yml", rules)


@pytest.mark.parametrize("interval, timeout", [("9s", "9s"), ("10s", "10s"), ("1m30s", "10s"), ("1500ms", "1500ms"),
                                               ("fast", "10s")])
def test_the_scrape_timeout_follows_an_interval_under_10_s(interval, timeout):
    assert scrape_timeout(interval) == timeout


@pytest.mark.parametrize("interval, timeout", [("15s", "10s"), ("1m", "10s"), ("10s", "10s"), ("5s", "5s"),
                                               ("500ms", "500ms")])
def test_promtool_accepts_the_prometheus_configuration_at_any_interval(tmp_path, interval, timeout):
    """A scrape interval under Prometheus' 10 s timeout takes the timeout down with it
    (promtool refused the configuration the lab's 5 s interval first gave)."""
    rules = tmp_path / "pgha_rules.yml"
    rules.write_text(render())
    config = tmp_path / "prometheus.yml"
    config.write_text(render_prometheus(interval, str(rules)))
    assert yaml.safe_load(config.read_text())["global"]["scrape_timeout"] == timeout
    result = subprocess.run([promtool(), "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
