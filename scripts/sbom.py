"""CycloneDX SBOM per service image (`make wheels`, `make images`): what the image installs, from the lock.

`uv export --format cyclonedx1.5` of the service's locked set, with the options of the Dockerfile's
`uv sync` (`--no-dev --package <service>`, members as wheels), then narrowed to the image's platform:
uv lists every platform's packages (a package only needed on Windows, two numpy versions for two
Python ranges), each with its marker, and a component whose marker is false for the image (the
Python of the Dockerfile's `PYTHON_IMAGE`, Linux, this machine's architecture) is not in the image.
Workspace members get a package URL like the others. The serial number and timestamp derive from
the content and the service's last commit, so the same commit gives the same file.

tests/release/test_sbom.py checks that it lists exactly the distributions docker/install-service.sh
(the Dockerfile's own steps) installs.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from packaging.markers import Marker, default_environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_wheels import source_date_epoch
from check_versions import ROOT, members

__all__ = ["image_environment", "image_services", "main", "sbom", "write_sboms"]

UV = os.environ.get("UV", "uv")
MARKER = "uv:package:marker"
WORKSPACE_PATH = "uv:workspace:path"


def image_services(root: Path = ROOT) -> list[str]:
    """Members with an image: those with a docker/Dockerfile.<name>."""
    return [name for name in members(root) if (root / "docker" / f"Dockerfile.{name}").exists()]


def image_environment(service: str, root: Path = ROOT) -> dict[str, str]:
    """Marker environment of the image: its base image's Python on Linux, this machine's architecture."""
    dockerfile = (root / "docker" / f"Dockerfile.{service}").read_text()
    found = re.search(r"^ARG PYTHON_IMAGE=\S*?python:(\d+)\.(\d+)\.(\d+)", dockerfile, re.MULTILINE)
    if found is None:
        raise ValueError(f"docker/Dockerfile.{service}: no `ARG PYTHON_IMAGE=python:X.Y.Z...` to read")
    major, minor, micro = found.groups()
    environment = {key: str(value) for key, value in default_environment().items()}
    environment |= {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": f"{major}.{minor}.{micro}",
        "python_version": f"{major}.{minor}",
        "python_full_version": f"{major}.{minor}.{micro}",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": platform.machine(),
    }
    return environment


def _properties(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def sbom(service: str, root: Path = ROOT) -> dict[str, Any]:
    """The CycloneDX 1.5 document of `service`'s image."""
    command = [UV, "export", "--format", "cyclonedx1.5", "--preview-features", "sbom-export", "--frozen"]
    command += ["--no-dev", "--package", service, "--no-editable", "--quiet"]
    exported = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout
    document: dict[str, Any] = json.loads(exported)
    environment = image_environment(service, root)
    kept = []
    for component in document["components"]:
        marker = _properties(component).get(MARKER)
        if marker is None or Marker(marker).evaluate(environment):
            component.setdefault("purl", f"pkg:pypi/{component['name']}@{component['version']}")
            kept.append(component)
    refs = {c["bom-ref"] for c in kept} | {document["metadata"]["component"]["bom-ref"]}
    document["components"] = kept
    document["dependencies"] = [
        {"ref": d["ref"], "dependsOn": [r for r in d.get("dependsOn", []) if r in refs]}
        for d in document.get("dependencies", [])
        if d["ref"] in refs
    ]
    subject = document["metadata"]["component"]
    subject["type"] = "application"
    subject["purl"] = f"pkg:pypi/{subject['name']}@{subject['version']}"
    folder = members(root)[service].path.relative_to(root).as_posix()
    epoch = int(source_date_epoch(root, folder) or 0)
    document["metadata"]["timestamp"] = datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat()
    content = json.dumps([document["components"], document["dependencies"]], sort_keys=True).encode()
    document["serialNumber"] = uuid.UUID(bytes=hashlib.sha256(content).digest()[:16], version=5).urn
    return document


def write_sboms(out_dir: Path, root: Path = ROOT, services: list[str] | None = None) -> list[Path]:
    """Write `<service>-<version>.cdx.json` for each image service into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for service in services or image_services(root):
        version = members(root)[service].version
        path = out_dir / f"{service}-{version}.cdx.json"
        path.write_text(json.dumps(sbom(service, root), indent=2) + "\n")
        written.append(path)
    return written


def main() -> int:
    """Write the SBOM of every image (or of `--service`) into `--out` (default dist/sbom)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "sbom")
    parser.add_argument("--service", action="append", help="a service with an image (repeatable)")
    args = parser.parse_args()
    for path in write_sboms(args.out.resolve(), services=args.service):
        components = len(json.loads(path.read_text())["components"])
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {components} components")
    return 0


if __name__ == "__main__":
    sys.exit(main())
