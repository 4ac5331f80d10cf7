"""Build, publish to a real local index, install each service with the documented recipe, start it."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_wheels import wheel_closure, wheels_by_name
from check_versions import internal_closure, members
from release_harness import (
    SERVICE_PROBES,
    SERVICES,
    UV,
    ServiceEnvs,
    background,
    clean_env,
    free_port,
    installed,
    installed_from,
    run,
    site_packages,
    wait_for,
)

pytestmark = pytest.mark.slow


def internal(venv: Path) -> set[str]:
    return set(installed(venv)) & set(members())


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_gets_exactly_the_internal_wheels_it_needs(
    service: str, service_envs: dict[str, ServiceEnvs], dist: Path
) -> None:
    venv = service_envs[service].index
    got = internal(venv)
    assert got == internal_closure(service)
    assert got == {
        name for name, wheel in wheels_by_name(dist).items() if wheel in wheel_closure(service, dist)
    }
    for other in set(SERVICES) - {service}:
        assert other not in got
        assert not (site_packages(venv) / members()[other].import_name).exists()
    versions = installed(venv)
    for name in got:
        assert versions[name] == members()[name].version
        assert installed_from(venv, name, wheels_by_name(dist)[name]), f"{name} is not the wheel we published"


@pytest.mark.parametrize("service", SERVICES)
def test_the_installed_set_is_consistent(service: str, service_envs: dict[str, ServiceEnvs]) -> None:
    for venv in (service_envs[service].index, service_envs[service].image):
        run([UV, "pip", "check", "--python", venv / "bin" / "python"])


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_steps_install_the_same_set_as_the_index(
    service: str, service_envs: dict[str, ServiceEnvs]
) -> None:
    envs = service_envs[service]
    assert installed(envs.image) == installed(envs.index)


@pytest.mark.parametrize("service", SERVICES)
def test_the_console_script_starts_and_answers(
    service: str, service_envs: dict[str, ServiceEnvs], tmp_path: Path
) -> None:
    port = free_port()
    script = service_envs[service].index / "bin" / service
    env = clean_env(CHAT_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / f"{service}.log"
    with background(
        [script, "--host", "127.0.0.1", "--port", str(port)], log, env=env, cwd=tmp_path
    ) as process:
        assert wait_for(f"http://127.0.0.1:{port}{SERVICE_PROBES[service]}", process, log) == 200
