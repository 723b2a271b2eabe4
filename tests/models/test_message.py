"""One message shape: stored, carried on the bus, serialized for the API, all from one record."""

from __future__ import annotations

from dataclasses import fields, replace

from bson import ObjectId

from tac.events import Event, posted
from tac.models import Message
from tac.web.api.schemas import MessageOut
from tac.web.api.serialize import message_json


def a_message() -> Message:
    return Message(room=ObjectId(), seq=7, author=ObjectId(), author_name="Ann", body="hi")


def test_what_is_stored_reads_back_as_the_same_record() -> None:
    message = a_message()
    stored = message.to_bson()
    assert stored["_id"] == message.id and "id" not in stored
    assert Message.from_bson(stored) == message


def test_a_document_stored_before_a_field_existed_reads_with_its_default() -> None:
    stored = a_message().to_bson()
    del stored["edited_at"], stored["deleted"]
    message = Message.from_bson(stored)
    assert message.edited_at is None and message.deleted is False


def test_what_the_bus_carries_reads_back_as_the_same_record() -> None:
    message = a_message()
    event = posted(message)
    assert Event.decode(event.encode()) == event
    assert Event.decode(event.encode()).message == message


def test_the_api_shows_every_field_and_documents_exactly_those() -> None:
    message = a_message()
    shown = message_json(message)
    assert set(shown) == {f.name for f in fields(Message)}
    assert set(MessageOut.model_fields) == set(shown)
    assert MessageOut.of(message).model_dump(mode="json") == MessageOut(**shown).model_dump(
        mode="json"
    )


def test_a_deleted_message_has_no_body_in_the_api() -> None:
    deleted = replace(a_message(), deleted=True)
    assert message_json(deleted)["body"] == ""
    assert deleted.to_bus()["body"] == "hi"  # the bus carries the record as stored
