"""patroni_switchover: the request runs in the background; the module returns
as soon as the candidate leads, and fails fast when Patroni refuses."""
import time

from unittest import mock

from ansible_collections.pgha.cluster.plugins.modules import patroni_switchover

CLUSTER = {"members": [{"name": "pg1", "role": "leader", "state": "running"},
                       {"name": "pg2", "role": "sync_standby", "state": "streaming"}]}
ARGS = {"version": 15, "action": "failover", "leader": "pg1", "candidate": "pg2", "address": "10.0.0.12",
        "candidate_address": "10.0.0.12", "timeout": 5}


def fake_api(post_answer, post_delay, primary_after):
    started = {}

    def call(url, method="GET", body=None, timeout=2.0, tls=None):
        if url.endswith("/cluster"):
            return 200, CLUSTER
        if method == "POST":
            started["post"] = (url, body)
            time.sleep(post_delay)
            return post_answer
        if url.endswith("/primary"):
            if "post" in started and time.time() - started.setdefault("t", time.time()) >= primary_after:
                return 200, {"role": "master", "timeline": 2}
            return 503, {"role": "replica"}
        raise AssertionError(url)
    return call, started


def test_the_candidate_is_seen_leading_before_patroni_answers(run_module):
    call, started = fake_api((200, "Successfully failed over"), 1.5, 0.3)
    begin = time.time()
    with mock.patch.object(patroni_switchover, "call", call):
        rc, result = run_module(patroni_switchover, ARGS)
    assert rc == 0 and result["timeline"] == 2, result
    # The candidate led after about 0.3 s, long before Patroni answered; its answer is still awaited (to 3 s).
    assert result["promoted_at"] - begin < 1.2 and result["timings"]["promote"] < 1.2
    assert started["post"] == ("https://10.0.0.12:8008/failover", {"candidate": "pg2"})
    assert result["patroni_answer"]["status"] == 200 and result["stopped_at"] > result["promoted_at"]


def test_fails_fast_when_patroni_refuses(run_module):
    call, dummy = fake_api((412, "candidate name does not match"), 0.1, 60)
    begin = time.time()
    with mock.patch.object(patroni_switchover, "call", call):
        rc, result = run_module(patroni_switchover, ARGS)
    assert rc == 1 and "412 candidate name does not match" in result["msg"], result
    assert time.time() - begin < 2


def test_refuses_before_asking_when_another_member_leads(run_module):
    call, started = fake_api((200, ""), 0, 0)
    with mock.patch.object(patroni_switchover, "call", call):
        rc, result = run_module(patroni_switchover, dict(ARGS, leader="pg3"))
    assert rc == 1 and result["msg"].startswith("failover refused, nothing was changed: Patroni's leader is pg1")
    assert "post" not in started
