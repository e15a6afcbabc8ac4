"""Browser sessions: a random server-side id in the cookie (never the API token), stored only hashed, ended by
logout, idleness, age or the user's revocation; CSRF tokens on every form (login and logout too); cross-site
requests refused; slow request headers timed out.  On both stores (the ``site`` of test_pages)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.access import add_user, list_users, revoke_user
from api.web.session import COOKIE, IDLE_MINUTES, LOGIN_COOKIE, SESSION_HOURS, csrf_token
from store.tables import LedgerStepRow, SessionRow
from store.types import utcnow
from tests import test_pages
from tests.test_pages import log_in, session_csrf

site = test_pages.site  # the fixture: test_pages' two contracts, a store of this module's own, on both stores

CROSS_SITE = "The form has expired or came from another site; reload the page and try again."


def fresh(site: dict[str, Any], role: str = "payer") -> TestClient:
    """A client logged in as a new user of ``role`` (its own token and session, so tests do not share one)."""
    token = add_user(site["engine"], f"{role}-{utcnow().timestamp()}", role, ["test-contract"],
                     party={"payer": "city", "provider": "provider"}.get(role))
    c = TestClient(site["app"])
    c.token = token  # type: ignore[attr-defined]
    assert log_in(c, token).status_code == 303
    return c


def stored(site: dict[str, Any], session_id: str) -> Any:
    with site["engine"].connect() as conn:
        return conn.execute(sa.select(SessionRow).where(
            SessionRow.id_hash == hashlib.sha256(session_id.encode()).hexdigest())).first()


def set_times(site: dict[str, Any], session_id: str, **values: Any) -> None:
    with site["engine"].begin() as conn:
        conn.execute(sa.update(SessionRow).where(
            SessionRow.id_hash == hashlib.sha256(session_id.encode()).hexdigest()).values(**values))


def replay(site: dict[str, Any], session_id: str, path: str = "/contracts/test-contract/schedule") -> Any:
    """The page as a browser holding only ``session_id`` in its cookie would get it."""
    c = TestClient(site["app"])
    c.cookies.set(COOKIE, session_id)
    return c.get(path, follow_redirects=False)


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def steps_of(site: dict[str, Any]) -> list[tuple[int, str]]:
    with site["engine"].connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(LedgerStepRow.entry_seq, LedgerStepRow.status))]


# -- what the browser holds, what the store keeps ---------------------------------------------------------------------

def test_the_cookie_is_a_random_session_id_not_the_token(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    assert session_id != c.token and c.token not in session_id and len(session_id) >= 40
    other = fresh(site)
    assert other.cookies[COOKIE] != session_id  # each login its own id
    assert replay(site, session_id).status_code == 200
    assert is_login_redirect(replay(site, c.token))  # the token itself is no session


def test_the_session_id_is_stored_only_as_its_hash(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    row = stored(site, session_id)
    assert row is not None and row.id_hash == hashlib.sha256(session_id.encode()).hexdigest()
    with site["engine"].connect() as conn:
        everything = " ".join(str(v) for r in conn.execute(sa.select(SessionRow)) for v in r)
    assert session_id not in everything and c.token not in everything
    created, expires = row.created_at, row.expires_at
    assert expires - created == timedelta(hours=SESSION_HOURS)


# -- how a session ends ---------------------------------------------------------------------------------------------

def test_logout_revokes_the_session_so_the_old_cookie_no_longer_works(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    assert replay(site, session_id).status_code == 200
    done = c.post("/logout", data={"csrf": session_csrf(c)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert stored(site, session_id).revoked_at is not None
    assert is_login_redirect(replay(site, session_id))  # the cookie replayed after logout: back to the login


def test_an_idle_session_ends_after_the_idle_timeout(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    set_times(site, session_id, last_seen=utcnow() - timedelta(minutes=IDLE_MINUTES - 2))
    assert replay(site, session_id).status_code == 200  # still within: and the request counts as activity
    assert utcnow() - _aware(stored(site, session_id).last_seen) < timedelta(minutes=1)
    set_times(site, session_id, last_seen=utcnow() - timedelta(minutes=IDLE_MINUTES + 1))
    assert is_login_redirect(replay(site, session_id))


def test_a_session_ends_at_its_absolute_expiry_however_busy(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    now = utcnow()
    set_times(site, session_id, created_at=now - timedelta(hours=SESSION_HOURS, minutes=1),
              expires_at=now - timedelta(minutes=1), last_seen=now)
    assert is_login_redirect(replay(site, session_id))


def test_revoking_the_user_ends_their_sessions(site) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    user = next(u for u in list_users(site["engine"]) if u["token_hint"] == c.token[:10])
    revoke_user(site["engine"], user["id"])
    assert stored(site, session_id).revoked_at is not None
    assert is_login_redirect(replay(site, session_id))
    set_times(site, session_id, revoked_at=None)  # even a session row left open: the user's revocation decides
    assert is_login_redirect(replay(site, session_id))


def _aware(moment: Any) -> Any:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -- CSRF on every form ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("csrf", [None, "", "0" * 43, "wrong"])
def test_login_without_its_form_token_is_refused(site, csrf: str | None) -> None:
    c = TestClient(site["app"])
    form = c.get("/login?lang=en")
    assert c.cookies.get(LOGIN_COOKIE) and f'value="{c.cookies[LOGIN_COOKIE]}"' in form.text
    data = {"token": site["tokens"]["payer"], "lang": "en"} | ({} if csrf is None else {"csrf": csrf})
    done = c.post("/login", data=data, follow_redirects=False)
    assert done.status_code == 403 and CROSS_SITE in done.text
    assert COOKIE not in done.headers.get("set-cookie", "")
    fresh_client = TestClient(site["app"])  # a form token without its cookie (another site cannot set it): refused
    refused = fresh_client.post("/login", data={"token": site["tokens"]["payer"], "csrf": c.cookies[LOGIN_COOKIE]},
                                follow_redirects=False)
    assert refused.status_code == 403 and COOKIE not in refused.headers.get("set-cookie", "")


@pytest.mark.parametrize("csrf", [None, "", "0" * 32])
def test_logout_without_the_session_s_form_token_is_refused_and_the_session_lives_on(site, csrf: str | None) -> None:
    c = fresh(site)
    session_id = c.cookies[COOKIE]
    done = c.post("/logout", data={} if csrf is None else {"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 403 and stored(site, session_id).revoked_at is None
    assert replay(site, session_id).status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("csrf", ["missing", "wrong", "another session's"])
def test_every_other_form_needs_its_session_s_token(site, action: str, csrf: str) -> None:
    c, other = fresh(site), fresh(site)
    entry = site["entries"]["test-contract"][4]
    token = {"missing": None, "wrong": "0" * 32, "another session's": session_csrf(other)}[csrf]
    data = {"reason": "because"} | ({} if token is None else {"csrf": token})
    before = steps_of(site)
    done = c.post(f"/contracts/test-contract/ledger/{entry}/{action}?lang=en", data=data, follow_redirects=False)
    assert done.status_code == 403 and steps_of(site) == before
    assert csrf_token(c.cookies[COOKIE]) in c.get("/contracts/test-contract/schedule").text  # the page's forms have it


# -- requests from another site ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                    {"Referer": "https://evil.example/page"}, {"Origin": "http://testserver.evil"}])
def test_a_cross_origin_post_is_refused_with_a_clear_page(site, header: dict[str, str]) -> None:
    c = fresh(site)
    entry = site["entries"]["test-contract"][5]
    before = steps_of(site)
    done = c.post(f"/contracts/test-contract/ledger/{entry}/approve?lang=en", data={"csrf": session_csrf(c)},
                  headers=header, follow_redirects=False)
    assert done.status_code == 403 and "was sent from another site" in done.text
    assert done.headers["content-type"].startswith("text/html") and steps_of(site) == before
    login = TestClient(site["app"])
    form = login.get("/login")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    refused = login.post("/login", data={"token": site["tokens"]["payer"], "csrf": csrf}, headers=header,
                         follow_redirects=False)
    assert refused.status_code == 403 and COOKIE not in refused.headers.get("set-cookie", "")
    api = TestClient(site["app"]).post("/api/v1/contracts/test-contract/payments", json={}, headers={
        **header, "Authorization": f"Bearer {site['tokens']['intermediary']}"})
    assert api.status_code == 403 and api.json()["error"]["code"] == "cross_origin"


def test_a_same_origin_post_goes_through(site) -> None:
    c = fresh(site)
    done = c.post("/logout", data={"csrf": session_csrf(c)}, headers={"Origin": "http://testserver",
                                                                      "Referer": "http://testserver/contracts"},
                  follow_redirects=False)
    assert done.status_code == 303


def test_configured_origins_are_the_only_ones_accepted(site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIB_ORIGINS", "https://sib.example.org")
    c = fresh(site)
    same_host = c.post("/logout", data={"csrf": session_csrf(c)}, headers={"Origin": "http://testserver"},
                       follow_redirects=False)
    assert same_host.status_code == 403  # behind a proxy the Host may be anything: the configured origin decides
    done = c.post("/logout", data={"csrf": session_csrf(c)}, headers={"Origin": "https://sib.example.org"},
                  follow_redirects=False)
    assert done.status_code == 303


def test_cookies_are_secure_over_https_or_when_configured(site, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = TestClient(site["app"])
    assert "Secure" not in log_in(plain, site["tokens"]["investor"]).headers["set-cookie"]
    tls = TestClient(site["app"], base_url="https://testserver")
    cookie = [h for h in log_in(tls, site["tokens"]["investor"]).headers.get_list("set-cookie")
              if h.startswith(COOKIE + "=")][0]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    monkeypatch.setenv("SIB_SECURE_COOKIE", "1")
    assert "Secure" in TestClient(site["app"]).get("/login").headers["set-cookie"]


# -- slow request headers -------------------------------------------------------------------------------------------

class _Loop:
    def __init__(self) -> None:
        self.timers: list[Any] = []

    def call_later(self, delay: float, callback: Any) -> Any:
        timer = _Timer(delay, callback)
        self.timers.append(timer)
        return timer

    def create_task(self, coroutine: Any) -> Any:  # the request's app task: not run here
        coroutine.close()
        return _Timer(0, None)


class _Timer:
    def __init__(self, delay: float, callback: Any) -> None:
        self.delay, self.callback, self.cancelled = delay, callback, False

    def cancel(self) -> None:
        self.cancelled = True

    def add_done_callback(self, callback: Any) -> None: ...


class _Transport:
    def __init__(self) -> None:
        self.closed, self.written = False, b""

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1234) if name in ("peername", "sockname") else None

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        self.written += data

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _protocol() -> tuple[Any, _Loop, _Transport]:
    import uvicorn
    from uvicorn.server import ServerState

    from api.cli.serve import HEADER_TIMEOUT, SERVER_LIMITS, header_timeout_protocol

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never reached in these tests
        raise AssertionError("no request should reach the app")

    config = uvicorn.Config(app, http=header_timeout_protocol(), **SERVER_LIMITS)
    config.load()
    loop = _Loop()
    protocol = header_timeout_protocol()(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = _Transport()
    protocol.connection_made(transport)
    assert loop.timers and loop.timers[0].delay == HEADER_TIMEOUT
    return protocol, loop, transport


def test_a_connection_whose_headers_never_finish_is_closed() -> None:
    """Slowloris: headers sent a byte at a time never complete; the header timer, started when the connection
    opened, is not reset by the bytes (uvicorn's own keep-alive timer is) and closes the connection."""
    protocol, loop, transport = _protocol()
    for chunk in (b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"X-a: b\r\n"):
        protocol.data_received(chunk)
    timer = loop.timers[0]
    assert not timer.cancelled and not transport.closed
    timer.callback()  # the timeout passes (the loop is ours: no waiting)
    assert transport.closed


def test_an_idle_connection_that_sends_nothing_is_closed() -> None:
    protocol, loop, transport = _protocol()
    loop.timers[0].callback()
    assert transport.closed


def test_complete_headers_stop_the_header_timer() -> None:
    from api.cli.serve import SERVER_LIMITS

    protocol, loop, transport = _protocol()
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")  # the body may follow
    assert loop.timers[0].cancelled and not transport.closed
    assert SERVER_LIMITS["timeout_keep_alive"] <= 5 and SERVER_LIMITS["h11_max_incomplete_event_size"] <= 64 * 1024
    assert SERVER_LIMITS["limit_concurrency"]
