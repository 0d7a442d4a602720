"""No Docker engine in CI: read the compose file and Dockerfile and check what an operator relies on."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_service_restarts_and_has_its_own_healthcheck():
    services = COMPOSE["services"]
    assert set(services) >= {"app", "worker", "redis", "postgres"}
    for name, service in services.items():
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
        assert service.get("healthcheck", {}).get("test"), name
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    # The worker must not inherit the web check against port 8000 (unhealthy forever).
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "spamguard", "worker-health"]
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_images_are_versioned_and_state_is_on_volumes():
    for name in ("redis", "postgres"):
        image = COMPOSE["services"][name]["image"]
        assert re.search(r":\d+\.\d+(\.\d+)?-", image), image  # not a floating major tag
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.M).group(1)
    assert re.search(r":\d+\.\d+\.\d+-", base), base
    volumes = set(COMPOSE["volumes"])
    assert {"redis-data", "postgres-data", "spamguard-data"} <= volumes
    assert "redis-data:/data" in COMPOSE["services"]["redis"]["volumes"]
    assert COMPOSE["services"]["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert COMPOSE["services"]["worker"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_dockerfile_probes_readiness_and_image_keeps_tests_out():
    assert "/readyz" in DOCKERFILE and "USER spamguard" in DOCKERFILE
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"tests", "bench", ".git", ".venv", "var", ".env"} <= ignored


def test_the_worker_health_command_exists():
    from click.testing import CliRunner

    from spamguard.cli import cli

    assert CliRunner().invoke(cli, ["worker-health", "--help"]).exit_code == 0
