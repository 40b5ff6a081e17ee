"""Operations endpoints and logs."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Hubd


def test_health_ready_metrics_and_json_logs(hubd: Hubd) -> None:
    assert httpx.get(f"{hubd.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{hubd.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    r = httpx.get(f"{hubd.url}/api/whoami-v2", headers={"authorization": f"Bearer {hubd.tokens['alice']}",
                                                         "x-request-id": "trace-me-123"})
    assert r.headers["x-request-id"] == "trace-me-123"
    text = httpx.get(f"{hubd.url}/metrics").text
    assert 'hubd_requests_total{method="GET",route="users.whoami",status="200"}' in text
    assert "hubd_request_duration_seconds_bucket" in text
    assert "hubd_bytes_out_total" in text and "hubd_job_queue_depth" in text
    log = (hubd.data_dir.parent / f"hubd-{hubd.port}.log").read_text().splitlines()
    lines = [json.loads(line) for line in log if line.startswith("{")]
    mine = [entry for entry in lines if entry.get("request_id") == "trace-me-123"]
    assert mine and mine[0]["path"] == "/api/whoami-v2" and mine[0]["status"] == 200 and mine[0]["user"] == "alice"
