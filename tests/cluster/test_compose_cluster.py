"""The docker-compose ``cluster`` profile (issue 13), checked structurally like the default services."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_profile_runs_a_ray_head_a_worker_and_the_api_on_ray() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "profiles" not in services["api"] and "profiles" not in services["postgres"]  # default `up` unchanged
    cluster = {name: s for name, s in services.items() if "cluster" in s.get("profiles", [])}
    assert set(cluster) == {"ray-head", "ray-worker", "api-ray"}
    head, worker, api = cluster["ray-head"], cluster["ray-worker"], cluster["api-ray"]
    assert head["build"]["args"]["LATENTSPACE_EXTRAS"] == "[cluster]"
    assert {s["image"] for s in cluster.values()} == {head["image"]}  # one image: same Ray and code everywhere
    assert head["command"][:3] == ["ray", "start", "--head"] and "--port=6379" in head["command"]
    assert "--address=ray-head:6379" in worker["command"] and worker["depends_on"]["ray-head"]
    command = api["command"]
    assert command[:2] == ["latentspace", "serve"] and command[command.index("--ray") + 1] == "ray-head:6379"
    assert int(command[command.index("--shards") + 1]) >= 2 and int(command[command.index("--replicas") + 1]) >= 1
    assert {"postgres", "ray-head"} <= set(api["depends_on"])
    env = {k: v for k, v in api["environment"].items() if k.startswith("LATENTSPACE_")}
    fields = {name.upper() for name in Settings.model_fields}
    assert {k.removeprefix("LATENTSPACE_") for k in env} <= fields
    settings = Settings(**{k.removeprefix("LATENTSPACE_").lower(): v for k, v in env.items()}, _env_file=None)
    assert settings.resolved_database_url().startswith("postgresql")  # cluster mode refuses SQLite
    for name in ("ray-head", "ray-worker", "api-ray"):
        volume = next(v for v in cluster[name]["volumes"] if v.endswith(":/data"))
        assert volume.split(":")[0] in compose["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ARG LATENTSPACE_EXTRAS=""' in dockerfile and '".${LATENTSPACE_EXTRAS}"' in dockerfile
    assert "COPY services ./services" in dockerfile and "COPY cli ./cli" in dockerfile
    extras = (ROOT / "pyproject.toml").read_text()
    assert 'cluster = ["ray[data,serve]==2.60.0"]' in extras
