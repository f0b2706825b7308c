"""The patient's own page (/me, issue 14 item 4) through the real app and
database: a one-time link opens a session bound to one patient; nothing in a
URL, another's link or a staff cookie shows anyone else's data; the
questionnaire's answers arrive as readings the engine scores; forms need this
site and a fresh nonce; guessing links is throttled.  One module-scoped ward."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique
from fastapi.testclient import TestClient

import ingest
from api import accounts, auth
from api.app import create_app
from ward import db, devices, patient_access, patient_links

pytestmark = pytest.mark.db

PHONE = "0161 555 0100"


@dataclass(frozen=True)
class Ward:
    ward_id: str
    a: str  # patient ids
    b: str
    a_name: str
    b_name: str


def _readings(conn, device: str, t: datetime, spo2: float, hr: float) -> None:
    door = ingest.DirectIngest(ingest.Limits())
    stamp = t.isoformat()
    msg = {"id": unique("m"), "readings": [
        {"time": stamp, "type": "spo2", "value": spo2},
        {"time": stamp, "type": "heart_rate", "value": hr},
        {"time": stamp, "type": "systolic_bp", "value": 128},
        {"time": stamp, "type": "diastolic_bp", "value": 79}]}
    done = door.readings(conn, device, json.dumps(msg).encode(), datetime.now(UTC),
                         kept_as="test")
    assert done.accepted == 4, done


@pytest.fixture(scope="module")
def ward(services_up) -> Ward:
    """Two patients on one ward with a phone number; A has an open alert."""
    ward_id = unique("wme")
    a, b = unique("pa"), unique("pb")
    now = datetime.now(UTC)
    with db.connect(services_up, autocommit=True) as conn:
        ingest.prepare_connection(conn)
        devices.register_devices(conn, [devices.NewDevice(f"{a}-ox", a, ward_id, "oximeter"),
                                        devices.NewDevice(f"{b}-ox", b, ward_id, "oximeter")],
                                 valid_from=now - timedelta(days=1))
        conn.execute("UPDATE patients SET display_name = CASE patient_id WHEN %s THEN"
                     " 'Ada Lovelace' ELSE 'Bob Barker' END WHERE patient_id IN (%s, %s)",
                     (a, a, b))
        patient_access.set_ward_phone(conn, ward_id, PHONE)
        _readings(conn, f"{a}-ox", now - timedelta(minutes=20), 93, 104)
        _readings(conn, f"{b}-ox", now - timedelta(minutes=5), 88, 131)
        conn.execute(
            "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
            " condition_time, opened_at, updated_at, last_notified_severity)"
            " VALUES (%s, %s, 'news2', 'clinical', 'urgent', 'open',"
            " 'NEWS2 6 (medium): SpO2 93 scores 2', %s, %s, %s, 'urgent')",
            (a, ward_id, now, now, now))
    return Ward(ward_id, a, b, "Ada Lovelace", "Bob Barker")


@pytest.fixture(scope="module")
def web(services_up):
    with TestClient(create_app(services_up, frontend=None), follow_redirects=False) as client:
        yield client


def _link(settings, patient_id: str, **kw) -> str:
    with db.connect(settings, autocommit=True) as conn:
        made = patient_access.make_link(conn, patient_id, by="test-nurse",
                                        now=kw.get("now", datetime.now(UTC)),
                                        lifetime=kw.get("lifetime", timedelta(hours=1)))
    return made.token


def _nonce(html: str) -> str:
    found = re.search(r'name="nonce"\s+value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _open(web: TestClient, token: str) -> str:
    """Open the page with the link as a phone does; the patient cookie's value."""
    web.cookies.clear()
    landing = web.get(f"/me/link/{token}")
    assert landing.status_code == 200, landing.text
    r = web.post(f"/me/link/{token}", data={"nonce": _nonce(landing.text)})
    assert r.status_code == 303 and r.headers["location"] == "/me", r.text
    cookie = r.cookies.get(patient_links.COOKIE)
    assert cookie
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert "path=/me" in set_cookie
    web.cookies.clear()
    return cookie


def _as(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{patient_links.COOKIE}={cookie}"}


def test_a_link_opens_the_patients_own_page_once(web, ward, services_up):
    token = _link(services_up, ward.a)
    assert web.get(f"/me/link/{token}").status_code == 200  # a preview uses nothing
    cookie = _open(web, token)
    page = web.get("/me", headers=_as(cookie))
    assert page.status_code == 200
    text = page.text
    assert ward.a_name in text and "93 %" in text and "104 beats a minute" in text
    assert "128/79 mmHg" in text and "20 minutes ago" in text
    assert "Your team has been told" in text
    assert PHONE in text and 'href="tel:01615550100"' in text and 'href="tel:999"' in text
    assert "Your next readings are" in text
    # Nothing of anyone else's, nothing of the scores' internals.
    for other in (ward.b_name, ward.b, "88 %", "131"):
        assert other not in text
    for internal in ("NEWS2", "score", "medium", "urgent", "band"):
        assert internal.lower() not in text.lower()
    # Security headers of every /me page.
    for name, value in (("cache-control", "no-store"), ("x-frame-options", "DENY"),
                        ("referrer-policy", "same-origin")):
        assert page.headers[name] == value
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The link works once.
    again = web.post(f"/me/link/{token}", data={"nonce": _nonce(page.text)})
    assert again.status_code == 409 and "already used" in again.text
    assert patient_links.COOKIE not in again.cookies


def test_another_patients_data_is_not_reached_by_url_link_or_cookie(web, ward, services_up):
    a_cookie = _open(web, _link(services_up, ward.a))
    b_token = _link(services_up, ward.b)
    b_cookie = _open(web, b_token)
    # URLs that name the other patient show nothing of theirs.
    for path in (f"/me/{ward.b}", f"/me?patient={ward.b}", f"/me?patient_id={ward.b}",
                 f"/me/patient/{ward.b}", f"/me/../api/v1/patients/{ward.b}"):
        r = web.get(path, headers=_as(a_cookie))
        assert ward.b_name not in r.text and "88 %" not in r.text, path
    # The patient cookie opens no staff door (and never leaves /me in a browser).
    api = web.get(f"/api/v1/patients/{ward.b}", headers=_as(a_cookie))
    assert api.status_code == 401
    # B's link, once used, does not open B's page for A's phone.
    r = web.post(f"/me/link/{b_token}", data={"nonce": "x"}, headers=_as(a_cookie))
    assert r.status_code == 409 and ward.b_name not in r.text
    # Each cookie shows its own patient only.
    assert ward.a_name in web.get("/me", headers=_as(a_cookie)).text
    b_page = web.get("/me", headers=_as(b_cookie)).text
    assert ward.b_name in b_page and ward.a_name not in b_page
    # A forged or staff cookie is no session.
    with db.connect(services_up, autocommit=True) as conn:
        user = accounts.create_user(conn, unique("nurse"), "clinician", "pw-long-enough")
        staff = auth.sign(accounts.open_session(conn, user, now=datetime.now(UTC),
                                                lifetime=timedelta(hours=1)),
                          services_up.secret_key)
    for cookie in (staff, a_cookie[:-2] + "00", "garbage"):
        r = web.get("/me", headers=_as(cookie))
        assert r.status_code == 401 and ward.a_name not in r.text
    r = web.get("/me", headers={"Cookie": f"vward_session={staff}"})
    assert r.status_code == 401 and ward.a_name not in r.text


def test_expired_revoked_and_discharged_links_and_sessions_open_nothing(web, ward,
                                                                        services_up):
    old = _link(services_up, ward.a, now=datetime.now(UTC) - timedelta(hours=2))
    r = web.get(f"/me/link/{old}")
    assert r.status_code == 410 and "expired" in r.text and ward.a_name not in r.text
    # A revocation cancels unused links and ends sessions.
    cookie = _open(web, _link(services_up, ward.b))
    unused = _link(services_up, ward.b)
    with db.connect(services_up, autocommit=True) as conn:
        links, sessions = patient_access.revoke(conn, ward.b, by="test", now=datetime.now(UTC))
    assert links >= 1 and sessions >= 1
    assert web.get("/me", headers=_as(cookie)).status_code == 401
    assert web.get(f"/me/link/{unused}").status_code == 403
    # A discharge closes the page at once.
    c = unique("pc")
    with db.connect(services_up, autocommit=True) as conn:
        devices.register_devices(conn, [devices.NewDevice(f"{c}-ox", c, ward.ward_id)])
        token = patient_access.make_link(conn, c, by="t", now=datetime.now(UTC),
                                         lifetime=timedelta(hours=1)).token
    cookie = _open(web, token)
    assert web.get("/me", headers=_as(cookie)).status_code == 200
    with db.connect(services_up, autocommit=True) as conn:
        conn.execute("UPDATE patients SET discharged_at = now() WHERE patient_id = %s", (c,))
    assert web.get("/me", headers=_as(cookie)).status_code == 401


def _count(settings, patient_id: str, type_: str) -> list[float]:
    with db.connect(settings, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT value FROM observations WHERE patient_id = %s AND type = %s"
            " AND device_id = %s ORDER BY time", (patient_id, type_,
                                                  patient_links.self_report_device(patient_id)))]


def test_answers_arrive_as_readings_the_engine_scores_and_need_a_fresh_form(
        web, ward, services_up, make_engine):
    cookie = _open(web, _link(services_up, ward.a))
    nonce = _nonce(web.get("/me", headers=_as(cookie)).text)
    answers = {"breathless": "yes", "confused": "yes"}
    # CSRF: no nonce, or a post from another site, stores nothing.
    assert web.post("/me/answers", data=answers, headers=_as(cookie)).status_code == 409
    other = web.post("/me/answers", data=answers | {"nonce": nonce},
                     headers=_as(cookie) | {"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert _count(services_up, ward.a, "breathlessness") == []
    # Without a session: nothing.
    assert web.post("/me/answers", data=answers | {"nonce": nonce}).status_code == 401
    sent = web.post("/me/answers", data=answers | {"nonce": nonce}, headers=_as(cookie))
    assert sent.status_code == 200 and "sent to your team" in sent.text
    assert _count(services_up, ward.a, "breathlessness") == [1.0]
    assert _count(services_up, ward.a, "consciousness") == [1.0]  # C
    # The engine scores it: consciousness C is a 3 in NEWS2.
    make_engine(ward.ward_id).drain(datetime.now(UTC))
    with db.connect(services_up, autocommit=True) as conn:
        row = conn.execute("SELECT inputs, sub_scores FROM scores WHERE patient_id = %s"
                           " ORDER BY time DESC LIMIT 1", (ward.a,)).fetchone()
    from ward.news2_chart import PARAMETERS
    i = PARAMETERS.index("consciousness")
    assert row is not None and row[0][i] == 1.0 and row[1][i] == 3
    # "No new confusion" never stores an A over the C.
    time.sleep(0.01)
    no = web.post("/me/answers", data={"breathless": "no", "confused": "no", "nonce": nonce},
                  headers=_as(cookie))
    assert no.status_code == 200
    assert _count(services_up, ward.a, "consciousness") == [1.0]
    assert _count(services_up, ward.a, "breathlessness") == [1.0, 0.0]
    page = web.get("/me", headers=_as(cookie)).text
    assert "More breathless than usual" in page and "new confusion" in page
    # Nothing answered: told so, nothing stored.
    empty = web.post("/me/answers", data={"nonce": nonce}, headers=_as(cookie))
    assert empty.status_code == 400 and "choose Yes or No" in empty.text


def test_sign_out_ends_the_session(web, ward, services_up):
    cookie = _open(web, _link(services_up, ward.a))
    nonce = _nonce(web.get("/me", headers=_as(cookie)).text)
    r = web.post("/me/signout", data={"nonce": nonce}, headers=_as(cookie))
    assert r.status_code == 200 and "signed out" in r.text
    assert web.get("/me", headers=_as(cookie)).status_code == 401


def test_guessing_links_is_slowed_per_address_like_sign_in(services_up, ward, conn):
    address = f"10.{time.time_ns() % 250}.{time.time_ns() // 7 % 250}.21"
    app = create_app(services_up, frontend=None)
    with TestClient(app, follow_redirects=False, client=(address, 4000)) as guesser:
        try:
            statuses = [guesser.get(f"/me/link/{patient_links.new_token()}").status_code
                        for _ in range(21)]
            assert statuses[:20] == [404] * 20 and statuses[20] == 429, statuses
            good = _link(services_up, ward.a)
            refused = guesser.get(f"/me/link/{good}")  # while it waits, even a real link
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        finally:
            conn.execute("DELETE FROM sign_in_failures WHERE address = %s", (address,))


def test_the_access_link_api_is_for_clinicians_only(web, ward, services_up):
    with db.connect(services_up, autocommit=True) as conn:
        admin = accounts.create_user(conn, unique("adm"), "admin", "pw-long-enough")
        token = accounts.issue_user_token(conn, admin, "test")
        device = accounts.issue_device_token(conn, f"{ward.a}-ox")
    r = web.post(f"/api/v1/patients/{ward.a}/access-link",
                 headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert "/me/link/" in body["url"] and ward.a not in body["url"]
    assert body["ward_phone"] == PHONE
    link = body["url"].rsplit("/me/link/", 1)[1]
    assert web.get(f"/me/link/{link}").status_code == 200
    assert web.post(f"/api/v1/patients/{ward.a}/access-link",
                    headers={"Authorization": f"Bearer {device}"}).status_code == 403
    assert web.post(f"/api/v1/patients/{ward.a}/access-link").status_code == 401
    assert web.post(f"/api/v1/patients/{unique('nobody')}/access-link",
                    headers={"Authorization": f"Bearer {token}"}).status_code == 404
    gone = web.delete(f"/api/v1/patients/{ward.a}/access-links",
                      headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 200 and gone.json()["links"] >= 1
    assert web.get(f"/me/link/{link}").status_code == 403


def test_the_self_report_device_never_raises_a_device_alert(ward, services_up, make_engine):
    """The page's answers arrive from a device that never reports a status: it must
    not go 'offline' on the hub's screen, while a real device that falls silent
    still does."""
    _link(services_up, ward.b)  # registers B's self-report device
    later = datetime.now(UTC) + timedelta(days=2)
    make_engine(ward.ward_id).tick(later)
    with db.connect(services_up, autocommit=True) as conn:
        offline = {r[0] for r in conn.execute(
            "SELECT device_id FROM alerts WHERE ward_id = %s AND kind = 'device_offline'",
            (ward.ward_id,))}
    assert f"{ward.b}-ox" in offline
    assert patient_links.self_report_device(ward.b) not in offline


def test_the_cli_sets_the_ward_phone_and_cancels_a_patients_links(ward, services_up):
    import subprocess
    import sys

    from conftest import ROOT, service_env

    def vward(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                              capture_output=True, text=True, env=service_env(services_up))

    bad = vward("ward", "phone", ward.ward_id, "call us")
    assert bad.returncode == 2 and "digits" in bad.stderr
    ok = vward("ward", "phone", ward.ward_id, "0161 555 0199")
    assert ok.returncode == 0 and "0161 555 0199" in ok.stdout, ok.stderr
    made = vward("patient", "link", ward.a, "--by", "nurse-jo")
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip().splitlines()[-1]
    assert "/me/link/" in link and ward.a not in link
    gone = vward("patient", "unlink", ward.a)
    assert gone.returncode == 0 and re.search(r"[1-9]\d* unused link\(s\) cancelled",
                                              gone.stdout), gone.stdout
    with db.connect(services_up, autocommit=True) as conn:
        assert patient_access.find_link(conn, link.rsplit("/", 1)[1]).revoked_at is not None
        patient_access.set_ward_phone(conn, ward.ward_id, PHONE)
    assert vward("patient", "link", unique("nobody")).returncode == 2


def test_the_team_sees_the_answers_on_the_patients_chart(web, ward, services_up):
    from dashboard import figures, format, queries

    cookie = _open(web, _link(services_up, ward.b))
    nonce = _nonce(web.get("/me", headers=_as(cookie)).text)
    sent = web.post("/me/answers", data={"breathless": "yes", "nonce": nonce},
                    headers=_as(cookie))
    assert sent.status_code == 200, sent.text
    now = datetime.now(UTC)
    with db.connect(services_up, autocommit=True) as conn:
        series, _ = queries.observations(conn, ward.b, now - timedelta(hours=1),
                                         now + timedelta(minutes=1))
    assert [float(v) for v in series["breathlessness"].mean] == [1.0]
    fig = figures.vital_signs_figure(series, start=now - timedelta(hours=1), end=now,
                                     tz="UTC")
    titles = [fig.layout[k].title.text for k in fig.layout if k.startswith("yaxis")]
    assert "More breathless than usual" in titles
    assert format.vital_text("breathlessness", 1.0) == "Yes"
