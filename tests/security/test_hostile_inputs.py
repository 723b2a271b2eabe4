"""Hostile inputs over every channel: the HTML forms, the page's socket and the JSON API.

Each case is refused clearly (a 4xx, the composer's inline error, or a close code: 1007 for
a frame no valid client sends, 1009 for one over TAC_WS_MAX_MESSAGE_BYTES), never with a
500 or a 1011; nothing is stored or numbered; and the server goes on serving others.
The text policy the cases check is chat/text.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tac.models import Room
from tests.conftest import Person
from tests.security.hostile import (
    IGNORED,
    INLINE,
    ON_SITE,
    Case,
    MalformedText,
    Stage,
    api,
    form,
    get,
    on_site,
    send_api,
    send_form,
    send_frames,
    send_raw_get,
    socket,
    static,
)
from tests.web.test_api_support import ApiUsers

POST = "/rooms/{slug}/messages"
API_POST = "/rooms/{slug}/messages"
FLOOD = "a" + "\u0301" * 10_000  # one letter under ten thousand combining accents
DEEP = "[" * 50_000  # under the socket's 64 KiB, far past the parser's depth
REGISTER = {"username": "{new}", "password": "correct horse"}

CASES: list[Case] = [
    # -- the HTML forms ---------------------------------------------------------------
    form("body-nul", POST, {"body": "a\x00b"}, 422),
    form("body-escape-sequence", POST, {"body": "\x1b[2J\x1b[31mred"}, 422),
    form("body-c1-control", POST, {"body": "a\x9bb"}, 422),
    form("body-combining-flood", POST, {"body": FLOOD}, 422),
    form("body-over-the-limit", POST, {"body": "x" * 4001}, 422),
    form("body-only-whitespace", POST, {"body": " \r\n\t "}, 422),
    form("body-not-utf8", POST, b"body=\xff\xfe&csrf_token={csrf}", 400),
    form("body-percent-encoded-not-utf8", POST, b"body=%FF%FE&csrf_token={csrf}", 400),
    form("request-over-1-MiB", POST, b"csrf_token={csrf}&body=" + b"x" * 2_000_000, 413),
    form("title-nul", "/rooms", {"title": "room\x00", "topic": ""}, 422),
    form("title-rtl-override", "/rooms", {"title": "evil\u202etxt.exe", "topic": ""}, 422),
    form("title-line-break", "/rooms", {"title": "two\nlines", "topic": ""}, 422),
    form("title-combining-flood", "/rooms", {"title": FLOOD, "topic": ""}, 422),
    form("topic-isolate", "/rooms", {"title": "fine", "topic": "a\u2066b"}, 422),
    form("display-name-rtl-override", "/register", {**REGISTER, "display_name": "\u202eAnn"}, 422),
    form("display-name-bell", "/register", {**REGISTER, "display_name": "Ann\x07"}, 422),
    form("username-rtl-override", "/register", {**REGISTER, "username": "ann\u202e"}, 422),
    form("token-name-nul", "/settings/tokens", {"name": "bot\x00"}, 422),
    form("token-name-isolate", "/settings/tokens", {"name": "\u2067bot"}, 422),
    get("history-before-huge", "/rooms/{slug}/history?before=" + "1" + "0" * 20, 422),
    get("history-before-negative", "/rooms/{slug}/history?before=-5", 422),
    get("history-before-zero", "/rooms/{slug}/history?before=0", 422),
    get("history-before-not-a-number", "/rooms/{slug}/history?before=abc", 422),
    get("history-before-underscores", "/rooms/{slug}/history?before=1_0", 422),
    get("history-before-5000-digits", "/rooms/{slug}/history?before=" + "9" * 5000, 422),
    form("next-other-host", "/login?next=//evil.example/", {}, ON_SITE),
    form("next-absolute-url", "/login?next=https://evil.example/", {}, ON_SITE),
    form("next-backslash", "/login?next=/%5Cevil.example/", {}, ON_SITE),
    form("next-tab", "/login?next=/%09/evil.example/", {}, ON_SITE),
    # -- the page's socket --------------------------------------------------------------
    socket("last-seq-infinity", '{"hello": true, "last_seq": Infinity}', expect=1007, hello=False),
    socket("last-seq-nan", '{"hello": true, "last_seq": NaN}', expect=1007, hello=False),
    socket("last-seq-huge", '{"hello": true, "last_seq": 1e400}', expect=1007, hello=False),
    socket(
        "last-seq-10^30", '{"hello": true, "last_seq": 1' + "0" * 30 + "}", expect=1007, hello=False
    ),
    socket("last-seq-negative", '{"hello": true, "last_seq": -1}', expect=1007, hello=False),
    socket("last-seq-text", '{"hello": true, "last_seq": "12"}', expect=1007, hello=False),
    socket("deep-nesting-first", DEEP, expect=1007, hello=False),
    socket("deep-nesting-in-body", '{"body": ' + DEEP, expect=1007),
    socket("not-json", "hello there", expect=1007),
    socket("json-but-not-an-object", "[1, 2, 3]", expect=1007),
    socket("binary-frame", b'{"body": "binary"}', expect=1007),
    # wsproto refuses it (1007); Hypercorn alone dropped the connection without a close
    # frame (1006): tac.patches.CloseRefusedSockets sends the close.
    socket("text-frame-not-utf8", MalformedText(b'{"body": "\xff\xfe"}'), expect=1007),
    socket("frame-over-the-limit", '{"body": "' + "x" * 70_000 + '"}', expect=1009),
    socket("body-null", '{"body": null}', expect=INLINE),
    socket("body-number", '{"body": 12345}', expect=INLINE),
    socket("body-object", '{"body": {"html": "<b>"}}', expect=INLINE),
    socket("body-list", '{"body": ["a", "b"]}', expect=INLINE),
    socket("body-lone-surrogate", '{"body": "\\ud800"}', expect=INLINE),
    socket("body-low-surrogate", '{"body": "a\\udc00b"}', expect=INLINE),
    socket("body-nul", '{"body": "a\\u0000b"}', expect=INLINE),
    socket("body-escape-sequence", '{"body": "\\u001b[2J"}', expect=INLINE),
    socket("body-combining-flood", '{"body": "' + FLOOD + '"}', expect=INLINE),
    socket("body-over-the-limit", '{"body": "' + "x" * 4001 + '"}', expect=INLINE),
    socket("unknown-fields-only", '{"nickname": "x", "seq": 5, "HEADERS": {}}', expect=IGNORED),
    socket("hello-room-number", '{"hello": true, "room": 5}', expect=1007, hello=False),
    socket("open-room-list", '{"open": ["x"], "last_seq": 0}', expect=1007),
    socket("open-unknown-room", '{"open": "not-a-room", "last_seq": 0}', expect=IGNORED),
    socket("read-room-object", '{"read": {"id": 1}, "seq": 1}', expect=1007),
    socket("read-unknown-room", '{"read": "not-a-room", "seq": 1}', expect=IGNORED),
    socket("typing-room-number", '{"typing": 7}', expect=1007),
    socket("body-to-an-unknown-room", '{"body": "hi", "room": "not-a-room"}', expect=INLINE),
    # -- the JSON API ---------------------------------------------------------------------
    api("body-lone-surrogate", "POST", API_POST, b'{"body": "\\ud800"}', 422),
    api("body-low-surrogate", "POST", API_POST, b'{"body": "a\\udc00b"}', 422),
    api("body-nul", "POST", API_POST, {"body": "a\x00b"}, 422),
    api("body-combining-flood", "POST", API_POST, {"body": FLOOD}, 422),
    api("body-null", "POST", API_POST, {"body": None}, 422),
    api("body-number", "POST", API_POST, {"body": 12345}, 422),
    api("body-list", "POST", API_POST, {"body": ["a"]}, 422),
    api("body-nan", "POST", API_POST, b'{"body": NaN}', 422),
    api("unknown-field", "POST", API_POST, {"body": "hi", "seq": 1}, 422),
    api("deep-nesting", "POST", API_POST, DEEP.encode(), 400),
    api("deep-nesting-in-body", "POST", API_POST, b'{"body": ' + DEEP.encode(), 400),
    api("not-utf8", "POST", API_POST, b'{"body": "\xff\xfe"}', 400),
    api("over-1-MiB", "POST", API_POST, b'{"body": "' + b"x" * 2_000_000 + b'"}', 413),
    api("history-before-huge", "GET", API_POST + "?before=" + "1" + "0" * 20, None, 422),
    api("history-after-negative", "GET", API_POST + "?after=-1", None, 422),
    api("history-before-not-a-number", "GET", API_POST + "?before=abc", None, 422),
    api("history-limit-huge", "GET", API_POST + "?limit=1" + "0" * 30, None, 422),
    api("read-seq-text", "POST", "/rooms/{slug}/read", {"seq": "1"}, 422),
    api("read-seq-negative", "POST", "/rooms/{slug}/read", {"seq": -1}, 422),
    api("read-seq-10^30", "POST", "/rooms/{slug}/read", b'{"seq": 1' + b"0" * 30 + b"}", 422),
    api("read-unknown-field", "POST", "/rooms/{slug}/read", {"seq": 1, "user": "x"}, 422),
    api("mentions-limit-huge", "GET", "/mentions?limit=1" + "0" * 30, None, 422),
    api("title-lone-surrogate", "POST", "/rooms", b'{"title": "\\ud800 room"}', 422),
    api("title-rtl-override", "POST", "/rooms", {"title": "evil\u202etxt"}, 422),
    api("topic-nul", "POST", "/rooms", {"title": "fine", "topic": "\x00"}, 422),
    api("title-unknown-field", "POST", "/rooms", {"title": "fine", "created_by": "me"}, 422),
    api(
        "display-name-surrogate",
        "POST",
        "/users",
        b'{"username": "{new}", "password": "{password}", "display_name": "\\udfff"}',
        422,
    ),
    api(
        "password-surrogate",
        "POST",
        "/users",
        b'{"username": "{new}", "password": "x\\ud800yyyyyy"}',
        422,
    ),
    api(
        "token-name-surrogate",
        "POST",
        "/tokens",
        b'{"username": "{me}", "password": "{password}", "name": "\\ud800"}',
        422,
    ),
    api(
        "token-password-surrogate",
        "POST",
        "/tokens",
        b'{"username": "{me}", "password": "\\ud800"}',
        422,
    ),
    # -- the static files -----------------------------------------------------------------
    static("dot-dot", "/static/../settings.py"),
    static("encoded-dot-dot", "/static/%2e%2e/settings.py"),
    static("encoded-slash", "/static/..%2fsettings.py"),
    static("encoded-backslash", "/static/..%5csettings.py"),
    static("double-encoded", "/static/%252e%252e/settings.py"),
    static("backslashes", "/static/..\\..\\tac\\settings.py"),
]


@pytest.fixture(scope="module")
async def stage(base_url: str, settings: object) -> AsyncIterator[Stage]:
    async with ApiUsers(base_url) as users:
        bot = await users.new()
        room = await bot.new_room()
        person = Person(base_url)
        assert (await person.register()).status_code == 302
        joined = await person.post_form(
            f"/rooms/{room['slug']}/join", {}, page=f"/rooms/{room['slug']}"
        )
        assert joined.status_code == 302
        found = await Room.find_one(Room.slug == room["slug"])
        assert found is not None and found.id is not None
        host, port = base_url.removeprefix("http://").split(":")
        yield Stage(person, bot, room["slug"], found.id, host, int(port))
        await person.close()


def test_the_table_is_large_and_covers_every_channel() -> None:
    assert len(CASES) >= 40
    assert {c.channel for c in CASES} == {"form", "socket", "api", "http"}
    assert len({(c.channel, c.id) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c.param() for c in CASES])
async def test_hostile_input_is_refused_and_changes_nothing(stage: Stage, case: Case) -> None:
    before = await stage.snapshot()
    if case.channel == "socket":
        assert await send_frames(stage, case) == case.expect
    elif case.channel == "http":
        status, answer = await send_raw_get(stage, case.path)
        assert status == case.expect, answer[:300]
        assert b"BaseSettings" not in answer and b"import" not in answer
    else:
        send = send_api if case.channel == "api" else send_form
        response = await send(stage, case)
        if case.expect == ON_SITE:
            assert response.status_code == 302, response.text[:300]
            assert on_site(response.headers["location"]), response.headers["location"]
        else:
            assert response.status_code == case.expect, response.text[:300]
            if case.channel == "api":
                assert response.json()["error"]["message"]
    if case.expect != ON_SITE:  # signing in stores nothing either, but it is not refused
        assert await stage.snapshot() == before
    # The server goes on serving others.
    page = await stage.api.http.get(f"/rooms/{stage.slug}/messages")
    assert page.status_code == 200


async def test_bidi_controls_in_a_body_are_stored_and_shown_isolated(stage: Stage) -> None:
    body = "\u202eevil.exe\u202c and \u2067isolated\u2069"
    message = await stage.api.post(stage.slug, body)
    assert message["body"] == body
    page = await stage.person.http.get(f"/rooms/{stage.slug}")
    assert f'<p class="body" dir="auto">{body}</p>' in page.text
