"""signetd serving mail while `signetctl rotate --now` rotates its keys
against a real Knot primary and secondary (issue 5; hostile-inputs KY-04).

Two clocks meet here.  Rotation runs on a simulated clock (--now), as in
the other rotation tests; signetd signs with whatever key set the store
holds and writes the wall-clock time into t=.  A message's place in the
simulated timeline is the simulated time at which it was sent: the key
store (and so signetd's signing set, once it has reloaded) and the DNS
are what the last `rotate` left, and they stay so until the next run.
A message is verified at its send time and again at a random simulated
time up to max_transit later, each time by dkimpy against the records
Knot serves at that point of the timeline.  dkimpy's t= and x= checks
use the wall clock, which t= and x= were written with.

test_rotation_end_to_end: mail before, during and after the rotation of
s1 and then of s2; every message has a dkimpy-passing signature at every
verification time.

test_ky04_rotate_and_sighup_under_load: 500 messages relayed to smtp-sink
while `rotate` (each run at the next due step) and SIGHUP run every
200 ms; every message has a passing signature, and its two signatures
come from keys that were in one signing set of the store together (one
generation, never a mix).
"""
import os
import random
import re
import signal
import threading
import time

import dkim

import tap
from peers import SmtpSink
from rawsmtp import session
from rotrig import (M, T0, ZONE, RotRigCase, dkimpy_each,  # noqa: F401
                    live_dns, record, sig_count)

SUBJECT = re.compile(rb"^Subject: (\S+)", re.M)


def message(tag):
    return ("From: Alice <alice@%s>\r\nTo: bob@dest.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@%s>\r\n\r\n"
            "Sent during the rotation test.\r\n" % (ZONE, tag, tag, ZONE)
            ).encode()


def dkimpy_one(msg, i, record):
    """Does signature i verify when its name holds record?"""
    try:
        return bool(dkim.DKIM(msg).verify(
            idx=i, dnsfunc=lambda name, timeout=5: record))
    except dkim.DKIMException:
        return False


def selector_of(msg, i):
    """s= of the i-th DKIM-Signature (top first)."""
    fields = re.findall(rb"^DKIM-Signature:(.*?)(?=^\S)", msg,
                        re.M | re.S | re.I)
    m = re.search(rb"\bs=\s*([A-Za-z0-9_.-]+)", fields[i])
    return m.group(1).decode()


class E2E(RotRigCase):
    PAIR = True

    def send(self, rig, tag):
        replies = session(rig.port, "alice@%s" % ZONE, ["bob@dest.test"],
                          message(tag))
        self.assertTrue(replies and replies[-1].code == 250,
                        "%s: %s" % (tag, replies))

    def wait_reload(self, rig, timeout=20):
        """Until signetd serves the store generation the journal has."""
        want = int(rig.journal()["generation"])
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if rig.metric("signet_store_generation") == want:
                return
            time.sleep(0.1)
        self.fail("signetd did not load generation %d" % want)

    def outbox_by_tag(self, rig):
        out = {}
        for m in rig.outbox():
            t = SUBJECT.search(m)
            self.assertIsNotNone(t, m[:300])
            out[t.group(1).decode()] = m
        return out

    # -- B: before, during and after s1 and s2 rotate -------------------

    def test_rotation_end_to_end(self):
        seed = int(os.environ.get("SIGNET_E2E_SEED", "1"))
        print("# seed %d" % seed)
        rng = random.Random(seed)
        rig = self.rig()
        t = rig.bring_up()
        first = {s: rig.key_at(s) for s in ("s1", "s2")}
        rig.start()
        self.wait_reload(rig)
        sent = {}                # tag -> simulated send time
        pending = []             # (verification time, tag)
        n = 0

        def send_some(now, k):
            nonlocal n
            for _ in range(k):
                tag = "m%03d" % n
                n += 1
                self.send(rig, tag)
                sent[tag] = now
                pending.append((now, tag))
                pending.append((now + rng.randint(1, M), tag))

        checked = []

        def verify_due(before):
            """Verify every message whose time is before `before` (the
            DNS holds from the last run until then)."""
            pending.sort()
            box = None
            while pending and pending[0][0] < before:
                tv, tag = pending.pop(0)
                if box is None:
                    box = self.outbox_by_tag(rig)
                self.assertIn(tag, box)
                server = rng.choice((self.primary, self.secondary))
                res = dkimpy_each(box[tag], live_dns(server))
                checked.append((tag, sent[tag], tv, res))
                self.assertTrue(any(res), "%s sent at %d, verified at %d "
                                "via %s: %s" % (tag, sent[tag], tv,
                                                server.server, res))

        send_some(t, 3)                       # before
        # run the rotation step by step until both slots have new keys
        # and every message's verification time has passed
        last_send = None
        for _ in range(200):
            rc, out, err = rig.rotate(t)
            self.assertEqual(rc, 0, out + err)
            # right after the run: signetd may still sign with the old
            # set (reload_bound covers it)
            send_some(t, 1)
            self.wait_reload(rig)
            self.secondary.wait_serial(ZONE, self.primary.serial(ZONE))
            done = all(rig.key_at(s) != first[s] for s in ("s1", "s2")) \
                and rig.signing() == ["s1", "s2"]
            if not done or last_send is None:
                send_some(t, 2)               # during, and just after
                if done:
                    last_send = t
            m = re.search(r"next step at .*\((\d+)\)", out)
            nxt = int(m.group(1)) if m and "waiting for" not in out \
                else t + 30
            if last_send is not None:
                nxt = min(nxt, last_send + M + 1)
            verify_due(nxt)
            t = max(nxt, t + 1)
            if last_send is not None and not pending:
                break
        self.assertIsNotNone(last_send, "both slots rotated")
        self.assertEqual(pending, [])
        self.assertGreaterEqual(len(sent), 20)
        self.assertEqual(len(checked), 2 * len(sent))
        # the first message passed at its times, but both of its keys
        # are gone from DNS now: the verification times mattered
        first_msg = self.outbox_by_tag(rig)["m000"]
        self.assertEqual(dkimpy_each(first_msg, live_dns(self.primary)),
                         [False, False])
        self.assertTrue(all(all(r[3]) for r in checked if r[0] == "m000"))
        print("# %d messages, %d verifications, %d with one signature "
              "failing" % (len(sent), len(checked),
                           sum(1 for r in checked if not all(r[3]))))

    # -- KY-04 ---------------------------------------------------------

    def test_ky04_rotate_and_sighup_under_load(self):
        sink = SmtpSink()
        sink.start()
        self.addCleanup(sink.cleanup)
        rig = self.rig(upstream=sink.port)
        t = rig.bring_up()
        rig.start()
        self.wait_reload(rig)
        key_dir = os.path.join(rig.dir, "keys", ZONE, "keys")
        records = {}             # key id -> record
        sets = set()             # frozenset of (selector, id) ever signing
        stop = threading.Event()
        errors = []

        def observe():
            j = rig.journal()
            for k in j.get("keys") or []:
                p = os.path.join(key_dir, k["id"] + ".pem")
                if k["id"] not in records and os.path.exists(p):
                    records[k["id"]] = (k["selector"], record(p))
            states = {k["id"]: k["state"] for k in j.get("keys") or []}
            sets.add(frozenset((s, i) for s, i in
                               (j.get("selectors") or {}).items()
                               if states.get(i) in ("READY", "ACTIVE")))

        observe()
        runs = {"rotate": 0, "hup": 0, "steps": 0}

        def rotator():
            now = t
            while not stop.is_set():
                rc, out, err = rig.rotate(now)
                if rc != 0:
                    errors.append("rotate: " + out + err)
                    return
                runs["rotate"] += 1
                runs["steps"] += len([l for l in out.splitlines()
                                      if len(l.split()) == 4])
                observe()
                m = re.search(r"next step at .*\((\d+)\)", out)
                if m and "waiting for" not in out:
                    now = max(int(m.group(1)), now + 1)
                else:
                    now += 1
                stop.wait(0.2)

        def hupper():
            while not stop.is_set():
                rig.proc.send_signal(signal.SIGHUP)
                runs["hup"] += 1
                stop.wait(0.2)

        def sender(k, count):
            for i in range(count):
                # spread the 500 messages over 25 rotate runs, however
                # fast this machine sends mail
                while runs["rotate"] < (i * 4 + k) // 20 and \
                        not stop.is_set() and not errors:
                    time.sleep(0.02)
                tag = "k%d-%03d" % (k, i)
                r = session(rig.port, "alice@%s" % ZONE, ["bob@dest.test"],
                            message(tag))
                if not r or r[-1].code != 250:
                    errors.append("%s: %s" % (tag, r))
                    return

        bg = [threading.Thread(target=rotator), threading.Thread(
            target=hupper)]
        senders = [threading.Thread(target=sender, args=(k, 125))
                   for k in range(4)]
        for th in bg + senders:
            th.start()
        for th in senders:
            th.join(300)
        stop.set()
        for th in bg:
            th.join(60)
        self.assertEqual(errors, [])
        observe()
        self.assertGreater(runs["hup"], 5)
        self.assertGreaterEqual(runs["rotate"], 24)
        self.assertGreater(runs["steps"], 10, "the rotation moved")
        self.assertGreaterEqual(len(sets), 3)
        box = {}
        for m in sink.wait_count(500, timeout=60):
            tag = SUBJECT.search(m.content)
            self.assertIsNotNone(tag, m.content[:300])
            box[tag.group(1).decode()] = m.content
        self.assertEqual(len(box), 500)
        by_sel = {}
        for kid, (sel, rec) in records.items():
            by_sel.setdefault(sel, []).append((kid, rec))
        mixed = []
        for tag, msg in sorted(box.items()):
            signers = []
            for i in range(sig_count(msg)):
                sel = selector_of(msg, i)
                found = None
                for kid, rec in by_sel.get(sel, []):
                    if dkimpy_one(msg, i, rec):
                        found = kid
                        break
                if found is not None:
                    signers.append((sel, found))
            self.assertTrue(signers, "%s: no signature verifies" % tag)
            if len(signers) == sig_count(msg) and \
                    not any(frozenset(signers) <= s for s in sets):
                mixed.append((tag, signers))
        self.assertEqual(mixed, [], "signatures from two generations")
        print("# %s; %d signing sets seen, %d keys" %
              (runs, len(sets), len(records)))


if __name__ == "__main__":
    tap.main()
