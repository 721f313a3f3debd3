"""docker-compose.yml runs the same processes as `make run`, each checked for health."""

import yaml

from tracker.tests.support import ROOT


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_every_process_of_the_procfile_plus_the_data_stores():
    services = load_compose()["services"]
    procfile = {
        line.split(":", 1)[0]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert procfile == {"web", "worker", "beat"}
    assert procfile | {"postgres", "redis", "migrate"} == set(services)


def test_every_long_running_service_has_a_health_check_and_app_config_from_env():
    services = load_compose()["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DEBUG"} <= set(env), name
        assert env["DEBUG"] == "0"


def test_data_lives_in_named_volumes():
    compose = load_compose()
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_the_database_image_has_the_rum_extension_of_the_search_index():
    postgres = load_compose()["services"]["postgres"]
    dockerfile = ROOT / postgres["build"]["context"] / postgres["build"]["dockerfile"]

    text = dockerfile.read_text()
    assert text.startswith("#") and "FROM postgres:15" in text
    assert "postgresql-${PG_MAJOR}-rum" in text
