"""The webhook's refusals under a flood: a few log lines a minute per container, and every refusal accounted for."""

from __future__ import annotations

from amsync.flood_sampler import FloodSampler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_of_a_minute_are_logged_then_one_in_every_with_the_count_of_the_others() -> None:
    # Given a sampler that logs the first 3 events of a minute, then one in 10
    clock = Clock()
    sampler = FloodSampler(burst=3, every=10, window_s=60, clock=clock)
    # When 45 events arrive within the minute
    answers = [sampler.admit() for _ in range(45)]
    # Then the first 3 are logged with nothing suppressed before them, then events 13, 23, 33 and 43, each
    # saying that the 9 before it went without a line
    logged = {i + 1: a for i, a in enumerate(answers) if a is not None}
    assert logged == {1: 0, 2: 0, 3: 0, 13: 9, 23: 9, 33: 9, 43: 9}
    # and every event is either on a line or counted on one (2 still wait to be counted)
    assert len(logged) + sum(logged.values()) == 45 - 2


def test_a_new_minute_logs_its_first_events_again_and_reports_the_ones_left_over() -> None:
    clock = Clock()
    sampler = FloodSampler(burst=2, every=100, window_s=60, clock=clock)
    assert [sampler.admit() for _ in range(7)] == [0, 0, None, None, None, None, None]
    # When the minute is over
    clock.now += 60
    # Then the next event is logged at once, carrying the five that went without a line
    assert [sampler.admit() for _ in range(3)] == [5, 0, None]


def test_a_trickle_is_always_logged() -> None:
    clock = Clock()
    sampler = FloodSampler(burst=20, every=100, window_s=60, clock=clock)
    for _ in range(100):
        assert sampler.admit() == 0
        clock.now += 5  # 12 a minute: under the burst
