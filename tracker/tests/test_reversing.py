"""tracker.reversing: a link's path either side of its argument, as reverse()
gives it, reversed once per process for each script prefix and URLconf."""

from django.urls import reverse, set_script_prefix

from tracker.reversing import _reversed_around, reversed_around


def test_either_side_of_the_argument_is_what_reverse_gives():
    before, after = reversed_around("issues:detail", "number", "987654321")
    assert f"{before}42{after}" == reverse("issues:detail", kwargs={"number": 42})


def test_it_is_reversed_once_and_then_kept():
    reversed_around("api:issue-detail", "issue_id", "00000000-0000-0000-0000-000000000000")
    hits = _reversed_around.cache_info().hits

    again = reversed_around("api:issue-detail", "issue_id", "00000000-0000-0000-0000-000000000000")

    assert _reversed_around.cache_info().hits == hits + 1
    assert again == tuple(reverse("api:issue-detail", kwargs={"issue_id": "X"}).split("X"))


def test_it_follows_the_script_prefix_a_server_mounted_elsewhere_sets():
    plain = reversed_around("issues:detail", "number", "987654321")
    set_script_prefix("/tracker/")
    try:
        mounted = reversed_around("issues:detail", "number", "987654321")
    finally:
        set_script_prefix("/")

    assert mounted == ("/tracker" + plain[0], plain[1])
    assert reversed_around("issues:detail", "number", "987654321") == plain
