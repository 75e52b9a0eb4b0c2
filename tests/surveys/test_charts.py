"""Results charts: counts on whole-number axes, Likert scales coloured from disagree to agree, and
labels that fit the chart in Chinese and English."""
from surveys import charts


def test_count_axes_have_whole_ticks_from_zero_past_the_largest_count():
    assert charts.whole_ticks(0) == charts.whole_ticks(1) == [0, 1]
    assert charts.whole_ticks(7) == list(range(8))
    assert charts.whole_ticks(23) == [0, 5, 10, 15, 20, 25]
    for top in (11, 99, 150, 4321):
        ticks = charts.whole_ticks(top)
        assert ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 12
        assert all(isinstance(tick, int) for tick in ticks)


def test_a_scale_runs_from_red_through_grey_to_blue_whatever_its_length():
    red, grey, blue = charts.diverging_colors(3)
    for count in range(2, 10):
        colours = charts.diverging_colors(count)
        assert len(set(colours)) == count and (colours[0], colours[-1]) == (red, blue)
    assert charts.diverging_colors(5)[2] == grey == charts.diverging_colors(1)[0]
    assert charts.diverging_colors(4) == [red, "#fddbc7", "#d1e5f0", blue]  # no neutral point: no grey


def test_long_labels_are_shortened_by_their_width_and_get_room_to_show():
    assert charts.short_label("short") == "short"
    long_label = "I need to log every customer visit from my phone"
    assert charts.short_label(long_label) == "I need to log every customer visit f…"
    assert charts.short_label("我需要在手机上录入每一次客户拜访的记录和照片") == "我需要在手机上录入每一次客户拜访的记…"
    # pygal reserves 0.6 em a character: Latin labels fit, Chinese ones need the difference
    assert charts.label_room(["Often", "Rarely"]) == 20
    assert charts.label_room(["经常", "很少拜访客户"]) == 20 + round(6 * 12 * 0.4)
