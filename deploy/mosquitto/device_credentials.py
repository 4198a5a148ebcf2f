"""Mosquitto credentials ("user:password" lines) for every device of a site file.

    .venv/bin/python deploy/mosquitto/device_credentials.py SITE_FILE \\
        [--keep deploy/mosquitto/passwords] > passwords.new

A device's username is its own topic levels, ``<site>/<kind>/<device>``: the ACL pattern
``estate/%u/telemetry`` (deploy/mosquitto/acl) lets it publish there and nowhere else.
Passwords are random. Accounts already in ``--keep`` are kept as they are, so running it again
after adding devices issues passwords for the new ones only. Give each device its line, and
mount the file as deploy/mosquitto/passwords (start.sh hashes it when the broker starts).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from steward.site import load_site_config


def device_usernames(site_file: Path) -> list[str]:
    config = load_site_config(site_file)
    return [
        f"{site.id}/{device.kind.value}/{device.id}"
        for site in config.sites
        for building in site.buildings
        for device in building.devices
    ]


def credentials(site_file: Path, keep: dict[str, str]) -> dict[str, str]:
    out = dict(keep)
    for username in device_usernames(site_file):
        out.setdefault(username, secrets.token_urlsafe(18))
    return out


def read_passwords(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and ":" in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site_file", type=Path)
    parser.add_argument("--keep", type=Path, help="an existing passwords file to extend")
    args = parser.parse_args(argv)
    accounts = credentials(args.site_file, read_passwords(args.keep))
    sys.stdout.write("".join(f"{user}:{password}\n" for user, password in accounts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
