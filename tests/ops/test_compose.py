"""compose.yml, ops/Dockerfile and ops/nginx.compose.conf agree with the settings.

There is no Docker engine here, so these read the files: every TAC_* variable is a real
setting with a valid value, the ports line up from nginx to the app, and the app runs as
a user that is not root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tac.settings import Settings

INTERPOLATION = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo_root / "compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def interpolate(value: object) -> str:
    """What compose makes of a value with nothing set: the default, or a stand-in for a
    variable that must be given (${VAR:?message})."""

    def fill(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        return rest if kind == "-" else f"<{name}>"

    return INTERPOLATION.sub(fill, str(value))


def app_environment(services: dict[str, Any]) -> dict[str, str]:
    env = services["app"]["environment"]
    assert isinstance(env, dict), "app.environment as a mapping, so it can be checked"
    return {key: interpolate(value) for key, value in env.items()}


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def test_the_deployment_has_nginx_app_redis_and_mongo(services: dict[str, Any]) -> None:
    assert set(services) == {"nginx", "app", "redis", "mongo"}
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert services["mongo"]["image"].split(":")[1].startswith("8")


def test_every_tac_variable_is_a_setting_with_a_valid_value(services: dict[str, Any]) -> None:
    env = app_environment(services)
    unknown = [
        k for k in env if k.startswith("TAC_") and k[4:].lower() not in Settings.model_fields
    ]
    assert unknown == []
    # Settings validates each value against its field's type (ports are ints, flags bools).
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("TAC_")})
    assert settings.host == "0.0.0.0"
    assert urlsplit(str(settings.mongo_url)).hostname == "mongo"
    assert urlsplit(str(settings.redis_url)).hostname == "redis"


def test_the_secret_key_comes_from_the_environment_and_is_required(
    services: dict[str, Any],
) -> None:
    raw = str(services["app"]["environment"]["TAC_SECRET_KEY"])
    assert re.fullmatch(r"\$\{TAC_SECRET_KEY:\?[^}]+\}", raw), raw


def test_the_app_can_be_scaled(services: dict[str, Any]) -> None:
    app = services["app"]
    # A fixed container name or a published host port would stop `--scale app=2`.
    assert "container_name" not in app
    assert "ports" not in app
    port = int(app_environment(services)["TAC_PORT"])
    assert str(port) in [str(p) for p in app["expose"]]


def test_every_service_has_a_health_check(services: dict[str, Any]) -> None:
    port = app_environment(services)["TAC_PORT"]
    assert f"127.0.0.1:{port}/healthz" in healthcheck_command(services["app"])
    assert "mongosh" in healthcheck_command(services["mongo"])
    assert "ping" in healthcheck_command(services["mongo"])
    assert healthcheck_command(services["redis"]).endswith("redis-cli ping")
    assert "test" in services["nginx"]["healthcheck"]
    for name in ("nginx", "app"):
        for dependency, condition in services[name]["depends_on"].items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)


def test_nginx_proxies_to_the_app_port_with_websockets(
    services: dict[str, Any], repo_root: Path
) -> None:
    nginx = services["nginx"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in nginx["volumes"]}
    config_path = repo_root / mounts["/etc/nginx/nginx.conf"]
    config = config_path.read_text()
    port = app_environment(services)["TAC_PORT"]
    assert re.findall(r"^\s*server\s+([^\s{;]+)[^{;]*;", config, re.M) == [f"app:{port}"]
    listen = re.search(r"^\s*listen\s+(\d+)", config, re.M)
    assert listen is not None
    assert [interpolate(p).split(":")[-1] for p in nginx["ports"]] == [listen.group(1)]
    assert "map $http_upgrade $connection_upgrade" in config
    assert "proxy_set_header Host $http_host;" in config
    assert not re.search(r"^\s*ip_hash", config, re.M)
    assert re.search(r"^\s*least_conn;", config, re.M)
    read_timeout = re.search(r"proxy_read_timeout\s+(\d+)s;", config)
    assert read_timeout is not None
    ping = float(app_environment(services)["TAC_WS_PING_INTERVAL_SECONDS"])
    assert int(read_timeout.group(1)) > ping


def test_the_image_runs_as_a_user_that_is_not_root(
    services: dict[str, Any], repo_root: Path
) -> None:
    build = services["app"]["build"]
    dockerfile = (repo_root / build["context"] / build["dockerfile"]).read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users, "the Dockerfile sets a USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    exposed = re.findall(r"^EXPOSE\s+(\d+)", dockerfile, re.M)
    assert exposed == [app_environment(services)["TAC_PORT"]]
    assert re.search(r"^CMD \[\"tac\", \"run\"\]", dockerfile, re.M)
