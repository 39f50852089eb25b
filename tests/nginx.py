"""Debian's nginx run by a test or a benchmark: its own config, prefix and pid file under one folder,
in the foreground, never the system service (scripts/ensure-nginx.sh installs the package)."""

import os
from pathlib import Path

NGINX = "/usr/sbin/nginx"


def main_config(folder: Path, http: str, *, error_level: str = "warn", connections: int = 1024) -> Path:
    """Write nginx.conf in `folder` around `http` (the lines inside `http { }`): every file nginx writes
    stays under `folder`. Returns its path."""
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / temp).mkdir(exist_ok=True)
    # As root, nginx's workers run as nobody, who cannot enter a private temp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log {error_level};
events {{ worker_connections {connections}; }}
http {{
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{http}}}
"""
    )
    return config
