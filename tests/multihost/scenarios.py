"""The fault scenarios across hosts, each ending in a count; run small by the tests
(tests/multihost/test_across_hosts.py) and at full size by bench/multihost.py. The last three
are the devices' (docs/devices.md): forged scans refused by the workers, a Pi's broker
credentials refused by the broker.

Each feeds both Pis a burst of scans, breaks something in the middle, then counts: every scan
a Pi accepted is written off exactly once, none twice, and every spool is empty. Each returns
its figures (seconds are measured from the fault).
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.baixa.support import outcomes, removals_by_product, stop_process
from tests.multihost.deployment import PROCESSES_PER_WORKER, Burst, Deployment, PiAgent
from tests.support.waiting import wait_until

# A scan without an outcome is sent again after 5 s, then 10 s (production: 60 s, up to 3,600 s).
AGENT_ENV = {"STOCKFLOW_AGENT_ACK_TIMEOUT_S": "5", "STOCKFLOW_AGENT_ACK_TIMEOUT_MAX_S": "10"}


def written_off(ids: Iterable[int]) -> int:
    return len(removals_by_product(ids))


def inverted_share(order: list[Any], expected: list[Any]) -> float:
    """Return the share of pairs that `order` has the other way round from `expected`
    (0: the same order, about 0.5: shuffled, 1: reversed)."""
    rank = {item: n for n, item in enumerate(expected)}
    pairs = list(itertools.combinations([rank[item] for item in order], 2))
    return sum(a > b for a, b in pairs) / max(1, len(pairs))


def assert_each_scan_written_off_once(deployment: Deployment, products: dict[str, list[int]],
                                      accepted: dict[str, list[str]]) -> None:
    """The count at the end: each accepted scan has one outcome, each product one removal,
    and every Pi's spool is empty."""
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) == len(every_id), 120,
               lambda: f"every product written off ({written_off(every_id)}/{len(every_id)})")
    for pi in deployment.pis:
        wait_until(lambda: pi.status()["spool_depth"] == 0, 60, f"{pi.device_id}'s spool to drain")
    assert set(removals_by_product(every_id).values()) == {1}  # none twice
    for device_id, scan_ids in accepted.items():
        recorded = [o for o in outcomes() if o.device_id == device_id]
        assert sorted(o.scan_id for o in recorded) == sorted(scan_ids)  # each once, no other
        assert [o.outcome for o in recorded] == ["removed"] * len(scan_ids)


def start_bursts(deployment: Deployment, scans_per_pi: int,
                 rate_per_s: float | None = None) -> tuple[dict[str, list[int]], list[Burst]]:
    """Start both Pis on products of their own; return the products per Pi and the bursts."""
    pis: list[PiAgent] = deployment.start_pis(AGENT_ENV)
    products = deployment.seed(scans_per_pi)
    return products, [Burst(pi, products[pi.device_id], rate_per_s) for pi in pis]


def worker_host_lost(deployment: Deployment, scans_per_pi: int) -> dict[str, Any]:
    """A worker host lost whole mid-burst (every process kill -9'd, no socket closed): every
    accepted scan written off exactly once; the tasks the lost host held are delivered again
    to the other host after the visibility timeout."""
    products, bursts = start_bursts(deployment, scans_per_pi)  # as fast as the Pis take them
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) >= len(every_id) // 4, 60, "a quarter written off")
    # Lose it with tasks in hand: the workers can answer the burst as fast as it comes, leaving
    # moments when nothing is unacked (seen once in CI: the host was lost holding nothing).
    wait_until(lambda: len(deployment.in_flight()) >= 2, 30, "tasks in hand on the worker hosts")
    lost_at = time.monotonic()
    assert deployment.lose_host(deployment.worker_hosts[0]) >= 1 + PROCESSES_PER_WORKER
    held = deployment.in_flight()  # the lost host's tasks, and the other's of the moment
    # No baixa takes this long and nothing is delivered again before the visibility timeout:
    # what is still unacked then was the lost host's.
    time.sleep(max(0.0, lost_at + deployment.visibility_timeout_s / 2 - time.monotonic()))
    lost = held & deployment.in_flight()
    accepted = {burst.pi.device_id: burst.join() for burst in bursts}

    wait_until(lambda: written_off(every_id) == len(every_id), 120, "every product written off")
    all_written_off_s = time.monotonic() - lost_at
    wait_until(lambda: not lost & deployment.in_flight(), deployment.visibility_timeout_s + 40,
               "the lost host's tasks to be delivered again")
    redelivered_s = time.monotonic() - lost_at
    wait_until(lambda: deployment.redis().llen("baixa") == 0 and not deployment.in_flight(), 30,
               "the other host to run them")
    assert_each_scan_written_off_once(deployment, products, accepted)
    assert lost  # the host was lost with work in hand
    return {"host_lost_scans": len(every_id), "host_lost_in_flight": len(lost),
            "host_lost_all_written_off_s": round(all_written_off_s, 1),
            "host_lost_redelivered_s": round(redelivered_s, 1),
            "visibility_timeout_s": deployment.visibility_timeout_s}


def pi_link_cut(deployment: Deployment, scans_per_pi: int, cut_s: float) -> dict[str, Any]:
    """A Pi's cable pulled mid-burst for `cut_s`: the clerk's scans are still accepted (spooled,
    beep), none reaches the server while the link is down, and once it is back every one is
    written off, in scan order; the other store goes on meanwhile."""
    products, bursts = start_bursts(deployment, scans_per_pi, rate_per_s=scans_per_pi / cut_s)
    cut, other = (burst.pi for burst in bursts)
    wait_until(lambda: len(bursts[0].answers) >= scans_per_pi // 4, 60, "a quarter scanned")
    cut.host.unplug()
    plug_at = time.monotonic() + cut_s
    # The scan being answered at the cut may have been sent just before it; every later one
    # is read while the link is down. (What was queued before the cut may still be written
    # off during it: a count of products would race with the workers.)
    sent_after_cut = len(bursts[0].answers) + 1
    other_before = written_off(products[other.device_id])
    status = cut.status()  # asked on the Pi itself: the broker does not answer there
    time.sleep(max(0.0, plug_at - time.monotonic()))  # the cut lasts cut_s
    during_cut = {answer["scan_id"] for answer in bursts[0].answers[sent_after_cut:]}
    assert not during_cut & {o.scan_id for o in outcomes() if o.device_id == cut.device_id}
    held = len(during_cut)
    assert written_off(products[other.device_id]) > other_before
    cut.host.plug()
    plugged_at = time.monotonic()

    accepted = {burst.pi.device_id: burst.join() for burst in bursts}
    wait_until(lambda: written_off(products[cut.device_id]) == scans_per_pi, 120, "the drain")
    drained_s = time.monotonic() - plugged_at
    assert_each_scan_written_off_once(deployment, products, accepted)
    assert status["broker_reachable"] is False and status["waiting_to_send"] >= 1
    assert held >= scans_per_pi // 4  # scans made during the cut waited in the spool
    drained = [int(o.product_id) for o in outcomes() if o.device_id == cut.device_id]
    inverted = inverted_share(drained, products[cut.device_id])
    # In scan order, but for the overtaking of the worker processes running side by side.
    assert inverted < 0.02
    return {"link_cut_s": cut_s, "link_cut_held_scans": held,
            "link_cut_drained_s": round(drained_s, 1), "link_cut_inverted_share": round(inverted, 4)}


def broker_restarted(deployment: Deployment, scans_per_pi: int, down_s: float) -> dict[str, Any]:
    """The broker kill -9'd mid-burst and started again on its data dir after `down_s`
    (appendfsync everysec: up to a second of writes lost, tasks and replies among them):
    every accepted scan written off exactly once; the agents send again what got no outcome."""
    products, bursts = start_bursts(deployment, scans_per_pi, rate_per_s=50)
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) >= len(every_id) // 4, 60, "a quarter written off")
    restarts_before = deployment.worker_restarts
    deployment.kill_broker()
    killed_at = time.monotonic()
    time.sleep(down_s)  # the broker is down this long
    deployment.start_broker()
    accepted = {burst.pi.device_id: burst.join() for burst in bursts}
    wait_until(lambda: written_off(every_id) == len(every_id), 120, "every product written off")
    recovered_s = time.monotonic() - killed_at
    assert_each_scan_written_off_once(deployment, products, accepted)
    return {"broker_down_s": down_s, "broker_all_written_off_s": round(recovered_s, 1),
            "broker_worker_restarts": deployment.worker_restarts - restarts_before}


def forged_scans_refused(deployment: Deployment, scans: int) -> dict[str, Any]:
    """From Pi host 1, holding device A's credentials and secret: scans naming device B (B's
    store), scans for B's store under A's own name, and unsigned scans naming B. The broker
    takes them all (it cannot read a message); the workers refuse every one, with its reason,
    and write off none; A's and B's own scans are written off once each."""
    a, b = deployment.start_pis(AGENT_ENV)
    products = deployment.seed(scans * 4)
    a_ids, b_ids = products[a.device_id], products[b.device_id]
    honest = {a.device_id: [a.scan(str(pid).encode())["scan_id"] for pid in a_ids[:scans]],
              b.device_id: [b.scan(str(pid).encode())["scan_id"] for pid in b_ids[:scans]]}
    for pi in (a, b):
        wait_until(lambda: pi.status()["spool_depth"] == 0, 60, f"{pi.device_id}'s spool to drain")
    a.stop()  # its forger below reads A's reply queue

    pi1 = a.host
    forgers = {
        "as_b": (deployment.start_agent(pi1, f"{a.device_id}-as-b", b.store_key,
                                        {**a.env, "STOCKFLOW_AGENT_DEVICE_ID": b.device_id}),
                 f"assinatura não confere com o segredo do dispositivo {b.device_id}"),
        "other_store": (deployment.start_agent(pi1, f"{a.device_id}-other-store", b.store_key, a.env),
                        f"dispositivo {a.device_id} não está autorizado na loja {b.store_key}"),
        "unsigned_as_b": (deployment.start_agent(pi1, f"{a.device_id}-unsigned", b.store_key,
                                                 {**a.env, "STOCKFLOW_AGENT_DEVICE_ID": b.device_id,
                                                  "STOCKFLOW_AGENT_DEVICE_SECRET": ""}),
                          f"mensagem sem assinatura do dispositivo {b.device_id}"),
    }
    targets = iter(b_ids[scans:])
    forged: dict[str, list[str]] = {}
    for name, (agent, _) in forgers.items():
        forged[name] = [agent.scan(str(next(targets)).encode())["scan_id"] for _ in range(scans)]
    every_forged = {scan_id for ids in forged.values() for scan_id in ids}

    def recorded() -> dict[str, Any]:
        return {o.scan_id: o for o in outcomes() if o.scan_id in every_forged}

    wait_until(lambda: len(recorded()) == len(every_forged), 60,
               lambda: f"every forged scan recorded ({len(recorded())}/{len(every_forged)})")
    for agent, _ in forgers.values():
        stop_process(agent.process)
    by_scan = recorded()
    for name, (_, reason) in forgers.items():
        assert {(by_scan[s].outcome, by_scan[s].reason) for s in forged[name]} == {
            ("refused", f"Leitura recusada: {reason}.")}, name
    assert written_off(b_ids[scans:]) == 0  # none of the forged scans wrote anything off
    assert removals_by_product([*a_ids[:scans], *b_ids[:scans]]) == dict.fromkeys(
        [*a_ids[:scans], *b_ids[:scans]], 1)
    for device_id, scan_ids in honest.items():
        assert sorted(o.scan_id for o in outcomes() if o.device_id == device_id
                      and o.outcome == "removed") == sorted(scan_ids)
    return {"forged_scans": len(every_forged), "forged_refused": len(by_scan),
            "forged_written_off": written_off(b_ids[scans:]),
            "honest_written_off": written_off([*a_ids[:scans], *b_ids[:scans]])}


# Run inside a Pi host with its broker URL, its device id and another device's: every other
# thing a Pi's Redis user might try, and what the broker answered.
REDIS_TRIES = r"""
import json, sys
import redis
url, own, other = sys.argv[1:4]
client = redis.Redis.from_url(url, socket_timeout=5)
tries = {
    "read the scans queue": ("LRANGE", "baixa", 0, -1), "take a scan": ("RPOP", "baixa"),
    "wait for a scan": ("BRPOP", "baixa", 1), "delete the scans queue": ("DEL", "baixa"),
    "trim the scans queue": ("LTRIM", "baixa", 1, 0),
    "read another device's replies": ("RPOP", f"baixa.outcomes.{other}"),
    "forge another device's reply": ("LPUSH", f"baixa.outcomes.{other}", "{}"),
    "delete its own reply queue": ("DEL", f"baixa.outcomes.{own}"),
    "delete a key": ("DEL", "stockflow:probe"), "overwrite a key": ("SET", "stockflow:probe", "x"),
    "publish a ruptura task": ("LPUSH", "ruptura", "{}"), "publish a sync task": ("LPUSH", "sync", "{}"),
    "read the tasks in flight": ("HGETALL", "unacked"), "list the keys": ("KEYS", "*"),
    "flush the database": ("FLUSHDB",), "publish on a live feed": ("PUBLISH", "store:LOJA-001", "x"),
}
answers = {}
for name, command in tries.items():
    try:
        client.execute_command(*command)
        answers[name] = "allowed"
    except redis.exceptions.NoPermissionError:
        answers[name] = "refused"
print(json.dumps({"ping": client.ping(), "answers": answers}))
"""


def redis_credentials_refused(deployment: Deployment) -> dict[str, Any]:
    """A Pi's Redis user, used from its own host to read the scans queue, another device's
    replies or the tasks in flight, to delete or overwrite a key, or to publish another
    task: Redis refuses each (the ACL), and nothing changed."""
    a, b = deployment.start_pis(AGENT_ENV)
    a.stop()
    server = deployment.redis()
    server.set("stockflow:probe", "kept")
    server.execute_command("ACL", "LOG", "RESET")
    done = subprocess.run(a.host.command([sys.executable, "-c", REDIS_TRIES, a.broker_url,
                                          a.device_id, b.device_id]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answered = json.loads(done.stdout)
    assert answered["ping"] is True  # the credentials work: what follows is the ACL's answer
    assert answered["answers"] == dict.fromkeys(answered["answers"], "refused"), answered
    assert server.get("stockflow:probe") == b"kept"
    assert server.llen("ruptura") == server.llen("sync") == 0
    logged = sum(int(entry["count"]) for entry in server.acl_log(count=128))
    assert logged == len(answered["answers"])  # each refusal is in the ACL log
    return {"redis_tries": len(answered["answers"]),
            "redis_refused": list(answered["answers"].values()).count("refused"),
            "redis_acl_log_refusals": logged}


RABBITMQ_TRIES = r"""
import json, sys
import amqp
host, vhost, user, password, own, other = sys.argv[1:7]

def publish(exchange, key, **properties):
    def send(channel):
        channel.confirm_select()
        channel.basic_publish_confirm(amqp.Message(b"{}", **properties), exchange=exchange,
                                      routing_key=key, mandatory=True)
    return send

tries = {
    "publish a scan as itself": publish("baixa", "baixa", user_id=user),
    "publish a scan as another device's user": publish("baixa", "baixa", user_id=f"device-{other}"),
    "publish a ruptura task": publish("ruptura", "ruptura"),
    "publish through the default exchange": publish("", "baixa"),
    "forge another device's reply": publish("", f"baixa.outcomes.{other}"),
    "read the scans queue": lambda ch: ch.basic_get("baixa"),
    "consume the scans queue": lambda ch: ch.basic_consume("baixa", callback=print),
    "read another device's replies": lambda ch: ch.basic_get(f"baixa.outcomes.{other}"),
    "purge the scans queue": lambda ch: ch.queue_purge("baixa"),
    "delete the scans queue": lambda ch: ch.queue_delete("baixa"),
    "copy the scans to its queue": lambda ch: ch.queue_bind(f"baixa.outcomes.{own}", "baixa", "baixa"),
    "declare a queue of its own": lambda ch: ch.queue_declare("stolen", auto_delete=True),
}
answers = {}
for name, action in tries.items():
    connection = amqp.Connection(host=host, userid=user, password=password, virtual_host=vhost,
                                 connect_timeout=5)
    connection.connect()
    try:
        action(connection.channel())
        answers[name] = "allowed"
    except (amqp.exceptions.AccessRefused, amqp.exceptions.PreconditionFailed) as refused:
        answers[name] = f"refused {refused.code}"
    finally:
        try:
            connection.close()
        except Exception:
            pass
print(json.dumps(answers))
"""


def rabbitmq_credentials_refused(deployment: Deployment) -> dict[str, Any]:
    """The same from a Pi host against RabbitMQ (reached through a proxy on the root's LAN
    address: it listens on the root's 127.0.0.1): a device issued on a vhost of its own may
    publish a scan as itself, and RabbitMQ refuses everything else, a forged user_id too."""
    from kombu import Connection, Queue

    from core import devices
    from core.baixa.outcomes import outcome_queue
    from core.celery_app import task_queues
    from tests.baixa.tcp_proxy import TcpProxy
    from tests.support.brokers import rabbitmq_vhost

    a_host = deployment.pi_hosts[0]
    device_id, other = f"{a_host.name}-rmq{os.getpid()}", "pi-other"
    with rabbitmq_vhost() as server_url:
        vhost = server_url.rsplit("/", 1)[1]
        with Connection(server_url, connect_timeout=5) as server:
            for queue in task_queues(amqp=True):
                queue(server.default_channel).declare()
            outcome_queue(other)(server.default_channel).declare()
            outcome_queue(device_id)(server.default_channel).declare()
        proxy = TcpProxy("127.0.0.1", 5672, listen_host=deployment.network.root_address)
        url = f"amqp://{deployment.network.root_address}:{proxy.port}/{vhost}"
        issued = devices.add_device(device_id, ["LOJA-001"], "multihost", "rabbitmq", url)
        try:
            parts = urlsplit(re.search(r"^STOCKFLOW_AGENT_BROKER_URL=(.*)$", issued.env_file,
                                       re.MULTILINE).group(1))
            done = subprocess.run(a_host.command([
                sys.executable, "-c", RABBITMQ_TRIES, f"{parts.hostname}:{parts.port}", vhost,
                unquote(parts.username or ""), unquote(parts.password or ""), device_id, other]),
                capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            answers = json.loads(done.stdout)
            with Connection(server_url, connect_timeout=5) as server:
                held = Queue("baixa")(server.default_channel).queue_declare(passive=True).message_count
        finally:
            devices.revoke_device(device_id, "multihost")
            proxy.close()
    assert answers.pop("publish a scan as itself") == "allowed"
    assert answers["publish a scan as another device's user"] == "refused 406"
    assert set(answers.values()) <= {"refused 403", "refused 406"}, answers
    assert held == 1  # only its own scan reached the queue
    return {"rabbitmq_tries": len(answers) + 1,
            "rabbitmq_refused": sum(a.startswith("refused") for a in answers.values())}
