"""The SBOM of each service image lists exactly the distributions the image's install steps install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from check_versions import members
from packaging.utils import canonicalize_name
from release_harness import ROOT, SERVICES, ServiceEnvs, installed
from sbom import image_services, sbom

pytestmark = pytest.mark.slow


def listed(document: dict[str, object]) -> list[tuple[str, str]]:
    """(name, version) of the image's subject and every component, duplicates kept."""
    components = [document["metadata"]["component"], *document["components"]]  # type: ignore[index]
    return sorted((canonicalize_name(c["name"]), c["version"]) for c in components)


def test_every_service_has_an_image() -> None:
    assert sorted(image_services()) == sorted(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_the_sbom_lists_exactly_what_the_image_installs(
    service: str, service_envs: dict[str, ServiceEnvs]
) -> None:
    document = sbom(service)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.5")
    assert document["metadata"]["component"]["name"] == service
    assert listed(document) == sorted(installed(service_envs[service].image).items())  # install-service.sh
    assert {(name, members()[name].version) for name, _ in listed(document) if name in members()} == {
        (name, version) for name, version in listed(document) if name in members()
    }
    refs = {c["bom-ref"] for c in document["components"]} | {document["metadata"]["component"]["bom-ref"]}
    for edge in document["dependencies"]:
        assert edge["ref"] in refs
        assert set(edge["dependsOn"]) <= refs


@pytest.mark.parametrize("service", SERVICES)
def test_the_sbom_is_the_same_for_the_same_commit(service: str) -> None:
    assert json.dumps(sbom(service)) == json.dumps(sbom(service))


def test_make_wheels_writes_one_sbom_per_image(tmp_path: Path) -> None:
    out = tmp_path / "sbom"
    subprocess.run(
        [sys.executable, ROOT / "scripts" / "sbom.py", "--out", out], check=True, capture_output=True
    )
    written = sorted(path.name for path in out.iterdir())
    assert written == sorted(f"{s}-{members()[s].version}.cdx.json" for s in SERVICES)
