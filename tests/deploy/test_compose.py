"""docker-compose.yml, the Dockerfile and deploy/ checked against the code. No Docker engine
runs on our build machines, so nothing here starts a container: it parses the files and checks
that names, ports, credentials, variables and mounted files agree with what Steward's settings,
the telemetry encoder and the broker configuration actually use."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from gateway.topics import ID_PATTERN, Kind
from simulators.scenarios import get_scenario
from steward.cli import app as steward_cli
from steward.clock import FakeClock
from steward.settings import Settings
from steward.site import load_site_config
from telemetry import InfluxSink, make_sink
from telemetry.fields import FIELDS, STRING_FIELDS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = {"mosquitto", "postgres", "influxdb", "steward", "simulator", "grafana"}
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")
_INTERPOLATED = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def resolve(value: Any) -> str:
    """What ``docker compose up`` makes of a value with no variable set: ``$$`` → ``$``,
    ``${VAR:-default}`` → default, ``${VAR}`` and ``$VAR`` → nothing."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return match.group(2) or ""

    return _INTERPOLATED.sub(one, str(value))


def healthcheck(service: dict[str, Any]) -> list[str]:
    """The healthcheck's command as the container runs it (after compose's interpolation)."""
    test = service["healthcheck"]["test"]
    return [resolve(word) for word in ([test] if isinstance(test, str) else test)]


def dockerfile_env() -> dict[str, str]:
    """The image's ``ENV`` (``ENV K=V K2=V2``, continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.upper().startswith("ENV "):
            continue
        words = shlex.split(line, comments=True)
        if words:
            if len(words) == 3 and "=" not in words[1]:  # the legacy ENV K V
                out[words[1]] = words[2]
            else:
                out.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
    return out


def published(service: dict[str, Any]) -> list[tuple[int, int]]:
    """``ports`` as (host, container) pairs."""
    pairs = []
    for spec in service.get("ports", []):
        host, _, container = str(spec).rpartition(":")
        pairs.append((int(host.rpartition(":")[2]), int(container.split("/")[0])))
    return pairs


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: resolve(v) for k, v in service.get("environment", {}).items()}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path → host path (bind mounts, relative to the repo) or volume name."""
    out = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def bind_source(service: dict[str, Any], container_path: str) -> Path:
    """The repo file or folder mounted at ``container_path`` (or under a mounted folder)."""
    for target, source in sorted(mounts(service).items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            assert source.startswith("./"), (
                f"{container_path} is on volume {source}, not in the repo"
            )
            return ROOT / source / Path(container_path).relative_to(target)
    raise AssertionError(f"nothing is mounted at {container_path}")


def conf(path: Path) -> dict[str, str]:
    """A mosquitto.conf as {directive: value} (each directive used once here)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            out[key] = value
    return out


def passwords() -> dict[str, str]:
    lines = (DEPLOY / "mosquitto" / "passwords").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip())


def acl_users() -> dict[str | None, list[str]]:
    """ACL rules by user (None: patterns for everyone)."""
    rules: dict[str | None, list[str]] = {None: []}
    user: str | None = None
    for line in (DEPLOY / "mosquitto" / "acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules[user] = []
        elif words[0] == "pattern":
            rules[None].append(" ".join(words[1:]))
        else:
            rules[user].append(" ".join(words[1:]))
    return rules


# -- the shape ---------------------------------------------------------------------------------
def test_services_healthchecks_and_healthy_dependencies(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert set(services["steward"]["depends_on"]) == {"mosquitto", "postgres", "influxdb"}
    assert set(services["simulator"]["depends_on"]) == {"mosquitto", "steward"}
    assert set(services["grafana"]["depends_on"]) == {"influxdb"}


def test_named_volumes_are_declared_and_bind_mounts_exist(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        for target, source in mounts(service).items():
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} (for {target}) is missing"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} not declared"


def test_every_steward_variable_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    """``steward run`` reads ``Settings``; the simulator's are checked against ``steward
    simulate``'s options (test_the_simulator_reads_its_variables)."""
    known = {f"STEWARD_{name.upper()}" for name in Settings.model_fields}
    for variable in {**dockerfile_env(), **env(services["steward"])}:
        if variable.startswith("STEWARD_"):
            assert variable in known, f"steward: {variable} is not a Steward setting"


def container_env(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Set the service's environment as its container sees it (the image's ``ENV`` under
    the compose file's ``environment``), and nothing else of Steward's."""
    for variable in list(os.environ):
        if variable.startswith("STEWARD_"):
            monkeypatch.delenv(variable)
    image = dockerfile_env() if services[name].get("build") == "." else {}
    variables = {**image, **env(services[name])}
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    return variables


def steward_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    container_env(services, "steward", monkeypatch)
    return Settings()


# -- Steward against each server ------------------------------------------------------------------
def test_steward_reaches_the_broker_with_its_own_credentials(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = steward_settings(services, monkeypatch)
    url = urlsplit(settings.mqtt_url)
    mosquitto = conf(DEPLOY / "mosquitto" / "mosquitto.conf")
    assert url.hostname == "mosquitto"
    assert str(url.port) == mosquitto["listener"]
    assert services["mosquitto"]["ports"] == [f"{url.port}:{mosquitto['listener']}"]
    assert url.username == "steward"
    assert passwords()["steward"] == url.password
    assert acl_users()["steward"] == [
        "read estate/+/+/+/telemetry",
        "read estate/+/+/+/status",
        "write estate/+/tickets",
    ]


def test_steward_reaches_postgres(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urlsplit(steward_settings(services, monkeypatch).database_url)
    postgres = env(services["postgres"])
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert (url.username, url.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert url.path == f"/{postgres['POSTGRES_DB']}"
    assert f"-U {postgres['POSTGRES_USER']} -d {postgres['POSTGRES_DB']}" in " ".join(
        services["postgres"]["healthcheck"]["test"]
    )


def test_steward_writes_to_the_initialised_influxdb(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = steward_settings(services, monkeypatch)
    init = env(services["influxdb"])
    assert init["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert settings.influx_token is not None
    assert settings.influx_token.get_secret_value() == init["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert settings.influx_org == init["DOCKER_INFLUXDB_INIT_ORG"]
    assert settings.influx_bucket == init["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert init["DOCKER_INFLUXDB_INIT_RETENTION"] == f"{settings.telemetry_retention_days:g}d"
    url = urlsplit(settings.influx_url or "")
    assert (url.hostname, url.port) == ("influxdb", 8086)
    assert services["influxdb"]["ports"] == ["8086:8086"]
    # the sink it builds: InfluxDB, spooling onto the steward-var volume
    assert settings.telemetry_spool_dir is not None
    assert mounts(services["steward"])["/app/var"] == "steward-var"
    assert settings.telemetry_spool_dir.is_relative_to("/app/var")
    monkeypatch.setenv("STEWARD_TELEMETRY_SPOOL_DIR", str(tmp_path / "spool"))
    sink = make_sink(Settings(), clock=FakeClock())
    assert isinstance(sink, InfluxSink)
    assert sink.target.url == "http://influxdb:8086"


def test_api_port_and_healthchecks_agree(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = steward_settings(services, monkeypatch)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {settings.http_port}" in dockerfile
    assert dockerfile_env()["STEWARD_HTTP_PORT"] == str(settings.http_port)
    assert f"127.0.0.1:{settings.http_port}/readyz" in dockerfile
    assert published(services["steward"]) == [(settings.http_port, settings.http_port)]
    assert f"127.0.0.1:{settings.http_port}/readyz" in " ".join(healthcheck(services["steward"]))


def test_the_api_listens_beyond_the_container(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both healthchecks ask 127.0.0.1 from inside the container, so they would pass on a
    loopback bind too, while the published port reached nothing: the API must listen on
    every interface."""
    settings = steward_settings(services, monkeypatch)
    assert settings.http_host in {"0.0.0.0", "::"}


def test_the_site_file_is_in_the_image(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = steward_settings(services, monkeypatch)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile
    assert settings.site_config is not None
    in_repo = ROOT / settings.site_config.relative_to("/app")
    package = in_repo.relative_to(ROOT).parts[0]
    assert f"COPY {package} ./{package}" in dockerfile
    assert load_site_config(in_repo).sites
    assert env(services["simulator"])["STEWARD_SITE_CONFIG"] == str(settings.site_config)


def test_the_image_holds_every_package(services: dict[str, dict[str, Any]]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        if package != "bench":  # benchmarks are not part of the service
            assert f"COPY {package} ./{package}" in dockerfile, f"the image lacks {package}/"
    assert services["steward"]["build"] == services["simulator"]["build"] == "."


# -- the simulator -----------------------------------------------------------------------------
def simulate_command() -> Any:
    """``steward simulate`` as typer builds it (its own click, vendored in recent typer)."""
    group: Any = typer.main.get_command(steward_cli)
    return group.commands["simulate"]


def test_the_simulator_reads_its_variables(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``steward simulate`` does not read ``Settings``: its options read their own variables
    (typer's ``envvar=``). Every STEWARD_* the compose file gives it must be one of those,
    and its command line must parse with them as the container runs it."""
    simulator = services["simulator"]
    command = simulate_command()
    envvars: dict[str, str] = {}
    for param in command.params:
        for variable in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
            assert param.name is not None
            envvars[variable] = param.name
    given = container_env(services, "simulator", monkeypatch)
    for variable in env(simulator):
        if variable.startswith("STEWARD_"):
            assert variable in envvars, f"simulator: steward simulate does not read {variable}"
    assert simulator["command"][:2] == ["steward", "simulate"]
    context = command.make_context("simulate", list(simulator["command"][2:]))
    for variable, name in envvars.items():
        if variable in env(simulator):
            assert str(context.params[name]) == given[variable], variable


def test_the_simulator_publishes_as_itself(services: dict[str, dict[str, Any]]) -> None:
    simulator = services["simulator"]
    command = simulator["command"]
    assert command[:2] == ["steward", "simulate"]
    get_scenario(command[command.index("--scenario") + 1])
    url = urlsplit(env(simulator)["STEWARD_MQTT_URL"])
    assert (url.hostname, url.username) == ("mosquitto", "simulator")
    assert passwords()["simulator"] == url.password
    assert acl_users()["simulator"] == ["write estate/+/+/+/telemetry", "write estate/+/+/+/status"]
    # the image's own healthcheck asks Steward's API, which the simulator does not run
    assert "readyz" not in " ".join(simulator["healthcheck"]["test"])


# -- mosquitto ------------------------------------------------------------------------------------
def test_broker_files_are_where_its_config_says(services: dict[str, dict[str, Any]]) -> None:
    mosquitto = services["mosquitto"]
    config = conf(bind_source(mosquitto, "/mosquitto/config/mosquitto.conf"))
    assert config["allow_anonymous"] == "false"
    assert bind_source(mosquitto, config["acl_file"]) == DEPLOY / "mosquitto" / "acl"
    start = mosquitto["entrypoint"][-1]
    script = bind_source(mosquitto, start).read_text()
    # start.sh hashes the mounted plaintext credentials into the file mosquitto.conf reads
    assert f"passwd={config['password_file']}" in script
    copied = re.search(r"cp (\S+) ", script)
    assert copied is not None
    assert bind_source(mosquitto, copied.group(1)) == DEPLOY / "mosquitto" / "passwords"
    assert "mosquitto_passwd -U" in script
    assert "-c /mosquitto/config/mosquitto.conf" in script
    assert config["persistence_location"].rstrip("/") in mounts(mosquitto)
    check = healthcheck(mosquitto)
    assert check[:2] == ["CMD", "mosquitto_sub"]
    user, password = check[check.index("-u") + 1], check[check.index("-P") + 1]
    assert passwords()[user] == password
    assert acl_users()[user] == ["read $SYS/broker/uptime"]
    # it subscribes to what the ACL lets it read (else it waits -W seconds for nothing and
    # the broker is never healthy), on the port the broker listens on
    topic = check[check.index("-t") + 1]
    assert any(
        rule.startswith("read ") and topic_matches(rule.removeprefix("read "), topic)
        for rule in acl_users()[user]
    ), f"the ACL does not let {user} read {topic}"
    assert topic.startswith("$SYS/"), "a broker's uptime is published under $SYS"
    port = check[check.index("-p") + 1] if "-p" in check else "1883"  # mosquitto_sub's default
    assert port == config["listener"]
    if "-h" in check:
        assert check[check.index("-h") + 1] in {"localhost", "127.0.0.1"}
    assert published(mosquitto) == [(1883, int(config["listener"]))]


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT matching of a subscription (or ACL) pattern against a topic (or narrower
    pattern): ``+`` one level, ``#`` the rest; a ``$`` topic only by a ``$`` pattern."""
    if topic.startswith("$") != pattern.startswith("$"):
        return False
    want, have = pattern.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def test_device_accounts_are_named_by_their_topics() -> None:
    accounts = passwords()
    devices = [user for user in accounts if "/" in user]
    assert devices
    for username in devices:
        site, kind, device = username.split("/")
        assert ID_PATTERN.match(site) and ID_PATTERN.match(device), username
        assert kind in {k.value for k in Kind}, username
    assert len(set(accounts.values())) == len(accounts), "no two accounts share a password"
    assert acl_users()[None] == ["write estate/%u/telemetry", "write estate/%u/status"]


def test_credentials_for_every_device_of_a_site_file() -> None:
    site_file = ROOT / "steward" / "examples" / "demo-site.yaml"
    shipped = passwords()
    result = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "mosquitto" / "device_credentials.py"),
            str(site_file),
            "--keep",
            str(DEPLOY / "mosquitto" / "passwords"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    issued = dict(line.split(":", 1) for line in result.stdout.splitlines())
    config = load_site_config(site_file)
    for site in config.sites:
        for building in site.buildings:
            for device in building.devices:
                assert issued.get(f"{site.id}/{device.kind.value}/{device.id}")
    assert {u: p for u, p in issued.items() if u in shipped} == shipped  # kept as they were
    fresh = [p for u, p in issued.items() if u not in shipped]
    assert len(set(fresh)) == len(fresh)
    assert all(len(p) >= 20 for p in fresh)


# -- influxdb and grafana ------------------------------------------------------------------------
INFLUXDB_INIT = {  # what influxdb:2's entry point reads (DOCKER_INFLUXDB_INIT_*)
    "DOCKER_INFLUXDB_INIT_MODE",
    "DOCKER_INFLUXDB_INIT_USERNAME",
    "DOCKER_INFLUXDB_INIT_PASSWORD",
    "DOCKER_INFLUXDB_INIT_ORG",
    "DOCKER_INFLUXDB_INIT_BUCKET",
    "DOCKER_INFLUXDB_INIT_RETENTION",
    "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN",
}
# Grafana reads GF_<SECTION>_<KEY> for [section] key of its configuration; these are the
# options the stack sets, and what each is for.
GRAFANA_OPTIONS = {
    "GF_SECURITY_ADMIN_PASSWORD": "[security] admin_password",
    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": "[dashboards] default_home_dashboard_path",
    "GF_SERVER_HTTP_PORT": "[server] http_port",
}


def test_influxdb_variables_and_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    influxdb = services["influxdb"]
    # setup mode needs every one of them; a misspelt one would be ignored
    assert set(env(influxdb)) == INFLUXDB_INIT
    port = 8086  # influxd's default http-bind-address; nothing here changes it
    assert published(influxdb) == [(8086, port)]
    check = healthcheck(influxdb)
    # `influx ping` asks /health of the server at --host (the CLI's default: localhost:8086)
    assert check[:3] == ["CMD", "influx", "ping"], check
    host = urlsplit(
        check[check.index("--host") + 1] if "--host" in check else "http://localhost:8086"
    )
    assert (host.hostname, host.port) in {("localhost", port), ("127.0.0.1", port)}
    assert not set(check[3:]) - {"--host", host.geturl()}, check


def test_grafana_variables_port_and_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    variables = env(grafana)
    options = {v for v in variables if v.startswith("GF_")}
    assert options <= set(GRAFANA_OPTIONS), options - set(GRAFANA_OPTIONS)
    assert "GF_SECURITY_ADMIN_PASSWORD" in options
    # without it Grafana's admin password is "admin"; the docs give the variable and default
    raw = _DEFAULT.fullmatch(str(grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]))
    assert raw is not None
    docs = (ROOT / "docs" / "deployment.md").read_text()
    assert f"admin / {raw.group(1)}, default {raw.group(2)}" in docs
    assert f"`{raw.group(1)}`" in docs.split("**Change the demo credentials**")[1]
    # everything else it is given is for the provisioning files
    provisioning = "".join(
        path.read_text()
        for path in bind_source(grafana, "/etc/grafana/provisioning").rglob("*.yaml")
    )
    for variable in set(variables) - options:
        assert f"${{{variable}}}" in provisioning, f"grafana: nothing reads {variable}"
    port = int(variables.get("GF_SERVER_HTTP_PORT", "3000"))  # Grafana's default http_port
    assert published(grafana) == [(3000, port)]
    check = " ".join(healthcheck(grafana))
    assert re.search(rf"http://(127\.0\.0\.1|localhost):{port}/api/health\b", check), check


def test_the_documented_ports_and_images_are_the_compose_files(
    services: dict[str, dict[str, Any]],
) -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    header = "| service | image | port |"
    assert header in docs
    listing = docs.split(header, 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", listing, flags=re.MULTILINE)
    table = {name: (image.strip(), port.strip()) for name, image, port in rows}
    assert set(table) == set(services)
    for name, service in services.items():
        image, port = table[name]
        if "image" in service:
            assert image == f"`{service['image']}`", name
        ports = published(service)
        assert port == (str(ports[0][0]) if ports else "—"), name
    urls = re.findall(r"^# ([^:\n]+):\s+http://localhost:(\d+)", docs, flags=re.MULTILINE)
    assert len(urls) == 3  # the API, Grafana, InfluxDB's UI
    for what, port in urls:
        assert any(int(port) == host for s in services.values() for host, _ in published(s)), what


def test_influxdb_init_scripts(services: dict[str, dict[str, Any]]) -> None:
    scripts = sorted(bind_source(services["influxdb"], "/docker-entrypoint-initdb.d").glob("*.sh"))
    assert scripts
    for script in scripts:
        if shutil.which("bash"):
            subprocess.run(["bash", "-n", str(script)], check=True)
        text = script.read_text()
        # text fields have no hourly mean: the exclusion list is exactly the encoder's strings
        listed = re.search(r"set: \[([^\]]*)\]", text)
        assert listed is not None
        assert set(re.findall(r'"(\w+)"', listed.group(1))) == STRING_FIELDS


def test_grafana_data_source_is_the_influxdb_steward_writes_to(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    grafana = services["grafana"]
    source = bind_source(grafana, "/etc/grafana/provisioning/datasources/influxdb.yaml")
    [datasource] = yaml.safe_load(source.read_text())["datasources"]
    assert datasource["type"] == "influxdb"
    assert datasource["jsonData"]["version"] == "Flux"
    settings = steward_settings(services, monkeypatch)
    assert datasource["url"] == settings.influx_url
    variables = env(grafana)

    def expand(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], text)

    assert settings.influx_token is not None
    assert expand(datasource["secureJsonData"]["token"]) == settings.influx_token.get_secret_value()
    assert expand(datasource["jsonData"]["organization"]) == settings.influx_org
    assert expand(datasource["jsonData"]["defaultBucket"]) == settings.influx_bucket


def test_grafana_dashboard_asks_for_what_steward_writes(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    provider_file = bind_source(grafana, "/etc/grafana/provisioning/dashboards/steward.yaml")
    [provider] = yaml.safe_load(provider_file.read_text())["providers"]
    folder = bind_source(grafana, provider["options"]["path"])
    home = env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert bind_source(grafana, home).parent == folder
    datasource_file = bind_source(grafana, "/etc/grafana/provisioning/datasources/influxdb.yaml")
    uid = yaml.safe_load(datasource_file.read_text())["datasources"][0]["uid"]
    kinds = {k.value: {spec.name for spec in FIELDS[k]} for k in Kind}
    dashboards = sorted(folder.glob("*.json"))
    assert dashboards
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        assert dashboard["panels"]
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == uid, panel["title"]
            for target in panel["targets"]:
                query = target["query"]
                [measurement] = re.findall(r'r._measurement == "(\w+)"', query)
                fields = re.findall(r'r._field == "(\w+)"', query)
                assert measurement in kinds, panel["title"]
                assert fields, panel["title"]
                assert set(fields) <= kinds[measurement], panel["title"]
                for tag in re.findall(r"r\.(\w+) (?:==|=~)", query):
                    assert tag in {"_measurement", "_field", "site", "building", "device", "kind"}
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] == uid
            assert re.search(r'tag: "(site|building|kind|device)"', variable["query"])
