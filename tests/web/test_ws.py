"""Live messages over real WebSockets on a real Hypercorn."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tac.models import Room
from tests.chat.test_messages import stored_in
from tests.conftest import Person, hello, receive_until

ARTICLE = re.compile(r'<article class="msg" id="msg-[0-9a-f]+" data-seq="(\d+)"')


def seqs(frames: list[str]) -> list[int]:
    return [int(s) for s in ARTICLE.findall("".join(frames))]


async def make_room(person: Person, title: str) -> str:
    response = await person.post_form("/rooms", {"title": title, "topic": ""})
    assert response.status_code == 302, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


async def join(person: Person, slug: str) -> None:
    response = await person.post_form(f"/rooms/{slug}/join", {}, page=f"/rooms/{slug}")
    assert response.status_code == 302


async def top_seq(slug: str) -> int:
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    return room.last_seq


async def test_both_clients_in_a_room_get_the_message_and_others_do_not(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    carol: Person = await person_factory()
    slug = await make_room(alice, "Live test")
    await join(bob, slug)
    elsewhere = await make_room(carol, "Elsewhere")
    start = await top_seq(slug)
    elsewhere_start = await top_seq(elsewhere)
    async with alice.connect(slug) as a, bob.connect(slug) as b, carol.connect(elsewhere) as c:
        for ws in (a, b):
            await hello(ws, start)
        await hello(c, elsewhere_start)
        await a.send('{"body": "hello from alice", "HEADERS": {"HX-Request": "true"}}')
        for ws in (a, b):
            frames = await receive_until(ws, lambda text: "hello from alice" in text)
            text = "".join(frames)
            assert seqs(frames) == [start + 1]
            # Appended to the room's list, wherever the page shows it (no other room's).
            room_id = str((await Room.find_one(Room.slug == slug)).id)  # type: ignore[union-attr]
            assert f"hx-swap-oob='beforeend:#messages[data-room=\"{room_id}\"]'" in text
            assert re.search(r'class="author">[^<]*' + alice.username, text)
        # Carol's own post comes after alice's reached the room: had alice's been sent to
        # carol's socket too, it would arrive before it.
        await c.send('{"body": "marker from carol"}')
        frames = await receive_until(c, lambda text: "marker from carol" in text)
        assert seqs(frames) == [elsewhere_start + 1]
        assert "hello from alice" not in "".join(frames)


async def test_script_body_arrives_escaped(person_factory: Any) -> None:
    alice: Person = await person_factory()
    async with alice.connect("general") as a:
        await hello(a, await top_seq("general"))
        await a.send('{"body": "<script>alert(1)</script>"}')
        frames = await receive_until(a, lambda t: "alert(1)" in t)
        text = "".join(frames)
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


async def test_empty_and_overlong_bodies_are_refused_and_not_stored(person_factory: Any) -> None:
    alice: Person = await person_factory()
    slug = await make_room(alice, "Limits")
    async with alice.connect(slug) as a:
        await hello(a, 0)
        await a.send('{"body": "   "}')
        frames = await receive_until(a, lambda t: "composer-error" in t)
        assert "A message needs some text." in "".join(frames)
        await a.send('{"body": "' + "x" * 4001 + '"}')
        frames = await receive_until(a, lambda t: "at most 4000 characters" in t)
        # The draft comes back so nothing the person typed is lost.
        assert "x" * 4001 in "".join(frames)
        await a.send('{"body": "' + "y" * 4000 + '"}')
        frames = await receive_until(a, lambda t: "y" * 4000 in t)
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    stored = await stored_in(room)
    assert [len(m.body) for m in stored] == [4000]


async def test_plain_form_post_stores_and_refuses_like_the_socket(person_factory: Any) -> None:
    alice: Person = await person_factory()
    slug = await make_room(alice, "Plain posts")
    ok = await alice.post_form(
        f"/rooms/{slug}/messages", {"body": "no js needed"}, page=f"/rooms/{slug}"
    )
    assert ok.status_code == 302
    page = await alice.http.get(f"/rooms/{slug}")
    assert "no js needed" in page.text
    bad = await alice.post_form(f"/rooms/{slug}/messages", {"body": ""}, page=f"/rooms/{slug}")
    assert bad.status_code == 422
    assert "A message needs some text." in bad.text


async def test_non_member_cannot_post(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    slug = await make_room(alice, "Members only")
    page = await bob.http.get(f"/rooms/{slug}")
    assert f"Join #{slug}" in page.text
    async with bob.connect(slug) as b:
        await hello(b, 0)
        await b.send('{"body": "let me in"}')
        frames = await receive_until(b, lambda t: "composer-error" in t)
        assert f"Join #{slug} first." in "".join(frames)


async def test_reconnect_delivers_exactly_what_was_missed_then_live(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    slug = await make_room(alice, "Reconnect")
    await join(bob, slug)
    for i in range(1, 8):
        r = await alice.post_form(
            f"/rooms/{slug}/messages", {"body": f"m{i}"}, page=f"/rooms/{slug}"
        )
        assert r.status_code == 302
    async with bob.connect(slug) as b:
        await hello(b, 3)
        frames = await receive_until(b, lambda t: "m7" in t)
        assert seqs(frames) == [4, 5, 6, 7]
        await b.send('{"body": "m8"}')
        frames = await receive_until(b, lambda t: "m8" in t)
        assert seqs(frames) == [8]
        # A duplicate of anything before, had one been sent, would arrive before m9.
        await b.send('{"body": "m9"}')
        frames = await receive_until(b, lambda t: "m9" in t)
        assert seqs(frames) == [9]


async def test_socket_needs_a_session_and_same_origin(person_factory: Any, base_url: str) -> None:
    import websockets

    stranger = Person(base_url)
    try:
        async with stranger.connect("general"):
            raise AssertionError("connected without a session")
    except websockets.InvalidStatus as e:
        assert e.response.status_code == 401
    alice: Person = await person_factory()
    cookie = "; ".join(f"{k}={v}" for k, v in alice.http.cookies.items())
    try:
        async with websockets.connect(
            alice.ws_url("general"),
            additional_headers={"Cookie": cookie},
            origin=websockets.Origin("http://evil.example"),
        ):
            raise AssertionError("connected from another origin")
    except websockets.InvalidStatus as e:
        assert e.response.status_code == 403
    await stranger.close()


async def test_many_quick_posts_arrive_once_each_in_order(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    slug = await make_room(alice, "Burst")
    await join(bob, slug)
    async with alice.connect(slug) as a, bob.connect(slug) as b:
        await hello(a, 0)
        await hello(b, 0)
        await asyncio.gather(*(a.send(f'{{"body": "burst {i}"}}') for i in range(30)))
        frames = await receive_until(b, lambda t: len(ARTICLE.findall(t)) >= 30)
        assert sorted(seqs(frames)) == list(range(1, 31))
        # A duplicate of the burst, had one been sent, would arrive before this.
        await a.send('{"body": "after the burst"}')
        frames = await receive_until(b, lambda t: "after the burst" in t)
        assert seqs(frames) == [31]


async def test_a_hello_claiming_more_than_exists_still_gets_live_messages(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    slug = await make_room(alice, "Big claims")
    async with alice.connect(slug) as a:
        await hello(a, 10**9)
        await a.send('{"body": "still here"}')
        frames = await receive_until(a, lambda t: "still here" in t)
        assert seqs(frames) == [1]


async def test_a_post_resent_with_its_client_id_is_stored_once_and_acknowledged_by_it(
    person_factory: Any,
) -> None:
    """A client that lost its socket before the acknowledgment cannot tell whether its post
    was stored: it resends with the same client id and `retry`, and the post exists once."""
    alice: Person = await person_factory()
    slug = await make_room(alice, "Idempotent")
    async with alice.connect(slug) as a:
        await hello(a, 0)
        await a.send('{"body": "only once", "client_id": "c-1"}')
        frames = await receive_until(a, lambda t: 'data-client-id="c-1"' in t)
        assert 'data-seq-acked="1"' in "".join(frames)
    async with alice.connect(slug) as b:
        await hello(b, 1)
        await b.send('{"body": "only once", "client_id": "c-1", "retry": true}')
        frames = await receive_until(b, lambda t: 'data-client-id="c-1"' in t)
        assert 'data-seq-acked="1"' in "".join(frames)
        await b.send('{"body": "only once", "client_id": "c-1"}')  # not marked as a retry
        frames = await receive_until(b, lambda t: 'data-client-id="c-1"' in t)
        assert 'data-seq-acked="1"' in "".join(frames)
        await b.send('{"body": "next", "client_id": "c-2"}')
        await receive_until(b, lambda t: 'data-client-id="c-2"' in t)
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    assert [(m.seq, m.body) for m in sorted(await stored_in(room), key=lambda m: m.seq)] == [
        (1, "only once"),
        (3, "next"),  # seq 2 went to the unmarked duplicate, which the index refused
    ]


async def test_a_malformed_client_id_is_refused_inline(person_factory: Any) -> None:
    alice: Person = await person_factory()
    slug = await make_room(alice, "Client ids")
    async with alice.connect(slug) as a:
        await hello(a, 0)
        await a.send('{"body": "hi", "client_id": "<b>"}')
        frames = await receive_until(a, lambda t: "client_id" in t)
        assert "is 1 to 64 of A-Z" in "".join(frames)
    room = await Room.find_one(Room.slug == slug)
    assert room is not None and room.last_seq == 0


async def socket_status(person: Person, slug: str, origin: str) -> int:
    """101 when the socket opens from a page of `origin`, else the refusal's status."""
    import websockets

    cookie = "; ".join(f"{k}={v}" for k, v in person.http.cookies.items())
    try:
        async with websockets.connect(
            person.ws_url(slug),
            additional_headers={"Cookie": cookie},
            origin=websockets.Origin(origin),
        ):
            return 101
    except websockets.InvalidStatus as e:
        return e.response.status_code


async def test_origin_check_compares_the_scheme_too(person_factory: Any, base_url: str) -> None:
    alice: Person = await person_factory()
    assert base_url.startswith("http://")
    assert await socket_status(alice, "general", base_url) == 101
    assert await socket_status(alice, "general", base_url.replace("http", "https", 1)) == 403
    assert await socket_status(alice, "general", base_url + "1") == 403  # another port
    assert await socket_status(alice, "general", "null") == 403


async def test_allowed_origins_replace_the_requests_own(
    person_factory: Any, base_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "allowed_origins", ["https://chat.example"])
    alice: Person = await person_factory()
    assert await socket_status(alice, "general", "https://chat.example") == 101
    assert await socket_status(alice, "general", "https://chat.example:443") == 101
    assert await socket_status(alice, "general", "http://chat.example") == 403
    assert await socket_status(alice, "general", base_url) == 403


def test_forwarded_headers_are_believed_only_from_trusted_proxies(settings: Any) -> None:
    from hypercorn.middleware import ProxyFixMiddleware

    from tac.app import create_app

    assert not isinstance(create_app(settings).asgi_app, ProxyFixMiddleware)
    behind_nginx = create_app(settings.model_copy(update={"trusted_proxy_hops": 1}))
    assert isinstance(behind_nginx.asgi_app, ProxyFixMiddleware)
    assert behind_nginx.asgi_app.trusted_hops == 1


async def test_after_leaving_in_another_tab_a_post_on_the_open_socket_is_refused(
    person_factory: Any, app: Any
) -> None:
    """The socket knows its user is a member (no read per post) until a LEFT event says
    otherwise: then the next post is checked, and refused."""
    alice: Person = await person_factory()
    slug = await make_room(alice, "Left behind")
    alice_id = (await alice.http.get("/api/v1/users/me")).json()["id"]
    async with alice.connect(slug) as a:
        await hello(a, 0)
        await a.send('{"body": "while a member", "client_id": "m-1"}')
        await receive_until(a, lambda t: 'data-client-id="m-1"' in t)
        left = await alice.post_form(f"/rooms/{slug}/leave", {}, page=f"/rooms/{slug}")
        assert left.status_code == 302
        hub = app.extensions["tac"].hub
        async with asyncio.timeout(5):  # until the LEFT event crossed the bus to the hub
            while any(c.member_of for c in hub.connections if c.user == alice_id):
                await asyncio.sleep(0.01)
        await a.send('{"body": "after leaving", "client_id": "m-2"}')
        frames = await receive_until(a, lambda t: 'data-client-id="m-2"' in t)
        assert f"Join #{slug} first." in "".join(frames)
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    assert [m.body for m in await stored_in(room)] == ["while a member"]
