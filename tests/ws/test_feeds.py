"""Delivering each generation event once and in order, live or replayed (no server needed)."""

from colloquy.chats.frames import Feeds, Frame

CHAT = "chat-1"


def event(event_id: int, generation: str = "g1", chat: str = CHAT) -> Frame:
    return {"type": "delta", "chat_id": chat, "generation_id": generation, "event_id": event_id}


def ids(frames: list[Frame]) -> list[int]:
    return [frame["event_id"] for frame in frames]


def test_a_reply_followed_from_its_start_goes_out_once() -> None:
    feeds = Feeds(grace=1.0)
    sent = [frame for i in (1, 2, 2, 3, 1) for frame in feeds.live(event(i), now=0)]
    assert ids(sent) == [1, 2, 3]


def test_a_new_reply_in_the_chat_starts_over() -> None:
    feeds = Feeds(grace=1.0)
    assert feeds.live(event(1), now=0)
    assert feeds.live(event(2), now=0)
    assert ids(feeds.live(event(1, "g2"), now=0)) == [1]


def test_a_reply_joined_mid_way_waits_for_the_grace() -> None:
    feeds = Feeds(grace=1.0)
    assert feeds.live(event(5), now=0) == []
    assert feeds.live(event(6), now=0.5) == []
    assert feeds.next_release(0.5) == 0.5
    assert feeds.due(0.9) == []
    assert ids(feeds.due(1.0)) == [5, 6]
    assert feeds.next_release(1.0) is None
    assert ids(feeds.live(event(7), now=1.1)) == [7]


def test_a_replay_delivers_in_order_and_live_duplicates_are_dropped() -> None:
    feeds = Feeds(grace=1.0)
    feeds.live(event(5), now=0)  # held: the client is about to resume
    assert feeds.begin_replay(CHAT)
    assert not feeds.begin_replay(CHAT)
    feeds.replay_target(CHAT, "g1")
    assert feeds.live(event(6), now=0) == []
    replayed = [frame for i in range(3, 8) for frame in feeds.replayed(event(i))]
    assert ids(replayed) == [3, 4, 5, 6, 7]
    assert feeds.end_replay(CHAT) == []
    assert feeds.live(event(7), now=0) == []
    assert ids(feeds.live(event(8), now=0)) == [8]


def test_live_events_of_another_reply_wait_behind_a_replay() -> None:
    feeds = Feeds(grace=1.0)
    feeds.begin_replay(CHAT)
    feeds.replay_target(CHAT, "g1")
    assert feeds.live(event(1, "g2"), now=0) == []
    assert ids(feeds.replayed(event(9))) == [9]
    assert ids(feeds.end_replay(CHAT)) == [1]
    assert ids(feeds.live(event(2, "g2"), now=0)) == [2]


def test_chats_are_independent() -> None:
    feeds = Feeds(grace=1.0)
    feeds.begin_replay(CHAT)
    assert ids(feeds.live(event(1, chat="chat-2"), now=0)) == [1]


def test_frames_without_an_event_id_pass_through() -> None:
    feeds = Feeds(grace=1.0)
    frame = {"type": "notice"}
    assert feeds.live(frame, now=0) == [frame]


def test_idle_chats_are_forgotten_beyond_the_limit() -> None:
    feeds = Feeds(grace=1.0, limit=2)
    for chat in ("a", "b", "c"):
        assert feeds.live(event(1, chat=chat), now=0)
    assert ids(feeds.live(event(2, chat="c"), now=0)) == [2]
    assert feeds.live(event(2, chat="a"), now=0) == []  # forgotten: joined mid-way again
