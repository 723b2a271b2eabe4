"""A room's delivered seqs: duplicates recognised, gaps reported once."""

from __future__ import annotations

from tac.hub.order import RoomOrder


def test_in_order_seqs_make_no_gap() -> None:
    order = RoomOrder(top=0)
    assert [order.accept(seq) for seq in (1, 2, 3)] == [None, None, None]
    assert order.top == 3 and all(order.delivered(s) for s in (1, 2, 3))


def test_a_skipped_seq_is_reported_as_a_gap_and_filled_later() -> None:
    order = RoomOrder(top=0)
    order.accept(1)
    assert order.accept(4) == (2, 3)
    assert order.missing(2, 3) == [2, 3]
    assert order.accept(2) is None  # below the top: fills, reports nothing
    assert order.missing(2, 3) == [3] and order.top == 4


def test_only_the_last_keep_seqs_are_remembered() -> None:
    order = RoomOrder(top=0, keep=3)
    for seq in range(1, 6):
        order.accept(seq)
    assert [order.delivered(s) for s in range(1, 6)] == [False, False, True, True, True]


def test_starting_from_the_rooms_top_sees_no_gap_for_the_next_message() -> None:
    order = RoomOrder(top=41)
    assert order.accept(42) is None
