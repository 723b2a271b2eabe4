"""The stack's nginx config (ops/nginx.conf.template) as rendered by ops/stack.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ops.stack import Stack, StackError, nginx_binary, render


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path, instances=3, port=18080)
    stack.instance_ports = [18001, 18002, 18003]
    return stack


def test_rendered_config_is_accepted_by_nginx(stack: Stack, tmp_path: Path) -> None:
    try:
        nginx = nginx_binary()
    except StackError as e:
        pytest.skip(str(e))
    (tmp_path / "nginx" / "temp").mkdir(parents=True)
    config = tmp_path / "nginx" / "nginx.conf"
    config.write_text(stack.nginx_config())
    checked = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            f"{tmp_path}/nginx/",
            "-e",
            str(tmp_path / "err.log"),
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_config_balances_every_instance_and_keeps_sockets_open(stack: Stack) -> None:
    config = stack.nginx_config()
    servers = re.findall(r"server (unix:\S+) max_fails", config)
    assert servers == stack.upstreams
    assert [s.rsplit("/", 2)[-2] for s in servers] == ["app1", "app2", "app3"]
    assert "least_conn;" in config
    assert not re.search(r"^\s*ip_hash", config, re.M)
    assert "listen 127.0.0.1:18080" in config
    assert "map $http_upgrade $connection_upgrade" in config
    assert "proxy_set_header Host $http_host;" in config
    assert "proxy_next_upstream error timeout" in config
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", config)
    assert read_timeout is not None
    assert int(read_timeout.group(1)) > stack.ping_interval
    assert "gzip on;" in config
    assert "text/css" in config
    assert "application/javascript" in config
    assert "{{" not in config


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(StackError, match="listen_port"):
        render("listen {{ listen_port }};", {})
