"""nginx in the foreground on a free port: the static-server baseline of the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from _hubd import free_port

CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {www};
{locations}
    }}
}}
"""


class Nginx:
    """nginx serving `www` (plus any `locations` text inside the server block), pid and logs under `root`."""

    def __init__(self, root: Path, www: Path, locations: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = root / "nginx.conf"
        conf.write_text(CONF.format(root=root, port=self.port, www=www, locations=locations))
        self.proc = subprocess.Popen(["nginx", "-e", str(root / "nginx-error.log"), "-p", str(root), "-c", str(conf)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"nginx did not start, see {root / 'nginx-error.log'}") from None
                time.sleep(0.1)

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.proc.terminate()
        self.proc.wait(10)
