"""Rate limits hold across workers and hosts when they share a Redis (DRAFTGUARD_REDIS_URL), and
see the client behind trusted proxies (DRAFTGUARD_TRUSTED_PROXIES), never a spoofed address."""
import pytest
import requests

from conftest import ADMIN_TOKEN, app_config, free_port, start_server, stop_server
from server import create_app


def _checks(url: str, count: int) -> list[int]:
    # A new connection each time, so each host's master hands the requests to any of its workers.
    return [requests.post(url + "/v1/check", json={"text": f"hello {n}"}, headers={"Connection": "close"},
                          timeout=10).status_code for n in range(count)]


@pytest.fixture
def hosts(models_dir, tmp_path, redis_url):
    """Two servers of two workers each, sharing nothing but Redis."""
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(start_server(models_dir, tmp_path / name, DRAFTGUARD_REDIS_URL=redis_url,
                                    DRAFTGUARD_CHECK_RATE_LIMIT="10 per hour"))
    yield servers
    for server in servers:
        stop_server(server)


def test_one_limit_holds_across_two_hosts_and_their_workers(hosts):
    statuses = _checks(hosts[0].url, 8) + _checks(hosts[1].url, 8)
    assert statuses.count(200) == 10 and statuses.count(429) == 6


def test_checks_go_on_when_redis_is_out_of_reach(models_dir, tmp_path):
    (tmp_path / "data").mkdir()
    server = start_server(models_dir, tmp_path / "data", DRAFTGUARD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                          DRAFTGUARD_CHECK_RATE_LIMIT="100 per hour")
    try:
        assert _checks(server.url, 3) == [200, 200, 200]
    finally:
        stop_server(server)


def _client(models_dir, tmp_path, proxies: int):
    return create_app(app_config(models_dir, tmp_path / "data", TRUSTED_PROXIES=proxies,
                                 CHECK_RATE_LIMIT="3 per hour")).test_client()


def _check_from(client, forwarded_for: str) -> int:
    return client.post("/v1/check", json={"text": "hello"}, headers={"X-Forwarded-For": forwarded_for}).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(models_dir, tmp_path):
    client = _client(models_dir, tmp_path, proxies=1)
    assert [_check_from(client, "203.0.113.1") for _ in range(4)] == [200, 200, 200, 429]
    assert _check_from(client, "203.0.113.2") == 200


def test_without_trusted_proxies_a_forwarded_address_is_ignored(models_dir, tmp_path):
    client = _client(models_dir, tmp_path, proxies=0)
    assert [_check_from(client, f"203.0.113.{n}") for n in range(4)] == [200, 200, 200, 429]


def test_the_audit_log_names_the_client_behind_the_proxy(models_dir, tmp_path):
    client = _client(models_dir, tmp_path, proxies=1)
    response = client.get("/v1/admin/models", headers={"Authorization": "Bearer wrong-" + ADMIN_TOKEN,
                                                       "X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 403
    entry = client.application.extensions["draftguard"]["storage"].audit.page()[0][0]
    assert entry["action"] == "auth.failed" and entry["detail"]["client"] == "198.51.100.7"
