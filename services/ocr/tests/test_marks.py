"""The second look at empty result cells (marks.find_dash, marks.find_mark): pure OpenCV on small drawn images."""
import cv2
import numpy as np
import pytest

from app.layout import Table
from app.marks import find_dash, find_mark, look_at_mark_cell, straighten_image, value_span

LINE_H = 30.0


def _band(draw=None, paper=205, noise=6, seed=0):
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal(paper, noise, (120, 300)), 0, 255).astype(np.uint8)
    if draw:
        draw(img)
    return cv2.GaussianBlur(img, (3, 3), 0)


def test_a_lone_dash_is_found_on_its_row():
    img = _band(lambda im: cv2.line(im, (120, 60), (132, 60), 60, 2))
    box = find_dash(img, 80, 220, 60, LINE_H)
    assert box is not None and 116 <= box[0] <= 122 and 130 <= box[2] <= 136


def test_faint_thin_dash_on_grey_paper():
    img = _band(lambda im: cv2.line(im, (120, 61), (130, 61), 120, 2), paper=198)
    assert find_dash(img, 80, 220, 60, LINE_H) is not None


def test_blank_cell_noise_and_shadow_are_not_a_dash():
    assert find_dash(_band(), 80, 220, 60, LINE_H) is None
    assert find_dash(_band(noise=14, seed=3), 80, 220, 60, LINE_H) is None
    shade = _band(lambda im: im.__setitem__((slice(None), slice(150, 300)), 150))
    assert find_dash(shade, 80, 220, 60, LINE_H) is None


def test_other_marks_are_not_a_dash():
    digit_one = _band(lambda im: cv2.line(im, (125, 48), (125, 72), 40, 2))
    plus = _band(lambda im: (cv2.line(im, (118, 60), (132, 60), 40, 2), cv2.line(im, (125, 53), (125, 67), 40, 2)))
    two_dashes = _band(lambda im: (cv2.line(im, (100, 60), (110, 60), 40, 2), cv2.line(im, (150, 60), (160, 60), 40, 2)))
    long_rule = _band(lambda im: cv2.line(im, (60, 60), (240, 60), 40, 1))  # runs out of the cell: a rule
    underline = _band(lambda im: cv2.line(im, (120, 74), (132, 74), 40, 2))  # far below the row's middle
    for img in (digit_one, plus, two_dashes, long_rule, underline):
        assert find_dash(img, 80, 220, 60, LINE_H) is None


def test_value_span_lies_between_name_and_range():
    t = Table(0, 800, 50, [("name", 40, 120), ("value", 300, 360), ("range", 420, 520), ("unit", 600, 650)])
    # with the row's range cell in view, the result column reaches to just before the range's header word (a
    # right-aligned result under a centred 结果 ends past the midpoint), never past the range cell itself
    assert value_span(t, 150, 410) == (210, 410)
    assert value_span(t, 150, 500) == (210, 418)
    # without it, the midpoint between the header words bounds it
    assert value_span(t, 250, None) == (250, 390)
    # only the result column is widened: a flag column keeps its midpoints
    tf = Table(0, 800, 50, [("name", 40, 120), ("value", 300, 360), ("flag", 420, 460), ("range", 520, 600)])
    assert value_span(tf, 150, 700, kind="flag") == (390, 490)
    assert value_span(Table(0, 800, 50, [("name", 40, 120), ("range", 420, 520)]), 150, None) is None


def test_straightened_image_matches_straightened_tokens():
    img = np.full((200, 300), 255, np.uint8)
    img[100, 150] = 0
    ang = np.radians(3)
    out = straighten_image(img, ang)
    c, s = np.cos(-ang), np.sin(-ang)
    x, y = 150 * c - 100 * s, 150 * s + 100 * c
    yy, xx = np.unravel_index(np.argmin(out), out.shape)
    assert abs(xx - x) <= 1.5 and abs(yy - y) <= 1.5


def test_a_short_hyphen_of_a_cjk_font_is_a_dash():
    """The '-' of a CJK font is short: at a 30 px line it comes out about 4 x 2 px after the photo is scaled down
    (the realistic synthetic sheets' 阴性 '-' results). It is still a lone flat stroke on the row's middle line;
    a dot of the same height is not."""
    def hyphen(im):
        im[60:62, 120:124] = 70
    img = np.clip(np.random.default_rng(0).normal(214, 3, (120, 300)), 0, 255).astype(np.uint8)
    hyphen(img)
    box = find_dash(img, 80, 220, 60, LINE_H)
    assert box is not None and 118 <= box[0] <= 121 and 123 <= box[2] <= 126
    dot = np.clip(np.random.default_rng(0).normal(214, 3, (120, 300)), 0, 255).astype(np.uint8)
    dot[60:62, 120:122] = 70
    assert find_dash(dot, 80, 220, 60, LINE_H) is None


def test_a_lone_plus_is_found_and_is_not_a_dash():
    """A stool or urine sheet's '+' result is as small as its '-' and the detector drops it as often: a short bar
    across and one down, crossing, on the row's middle line, is '+'. A digit 1, a box, a dash, a letter-sized blob
    and two marks are not."""
    plus = _band(lambda im: (cv2.line(im, (118, 60), (132, 60), 40, 2), cv2.line(im, (125, 53), (125, 67), 40, 2)))
    found = find_mark(plus, 80, 220, 60, LINE_H)
    assert found is not None and found[0] == "+" and 115 <= found[1][0] <= 120 and 130 <= found[1][2] <= 135
    small = _band(lambda im: (cv2.line(im, (120, 60), (127, 60), 40, 1), cv2.line(im, (123, 57), (123, 64), 40, 1)))
    assert find_mark(small, 80, 220, 60, LINE_H)[0] == "+"
    assert find_mark(_band(lambda im: cv2.line(im, (120, 60), (132, 60), 60, 2)), 80, 220, 60, LINE_H)[0] == "-"
    digit_one = _band(lambda im: cv2.line(im, (125, 48), (125, 72), 40, 2))
    box = _band(lambda im: cv2.rectangle(im, (118, 53), (132, 67), 40, 2))
    filled = _band(lambda im: cv2.rectangle(im, (118, 53), (132, 67), 40, -1))
    two = _band(lambda im: (cv2.line(im, (100, 60), (110, 60), 40, 2), cv2.line(im, (150, 53), (150, 67), 40, 2),
                            cv2.line(im, (143, 60), (157, 60), 40, 2)))
    for img in (digit_one, box, filled, two):
        assert find_mark(img, 80, 220, 60, LINE_H) is None


def test_a_dash_beside_a_grid_rule_is_still_found():
    """A full-grid table: the column line runs down the row just left of the result cell's '-'. The rule crosses
    the whole row band, no glyph does: it is not the cell's content."""
    def draw(im):
        cv2.line(im, (100, 0), (100, 119), 50, 2)  # the grid's column line, through the band
        cv2.line(im, (110, 60), (118, 60), 60, 2)  # a short hyphen close to it

    img = _band(draw)
    found = find_mark(img, 80, 220, 60, LINE_H)
    assert found is not None and found[0] == "-" and 106 <= found[1][0] <= 112
    # the cell's span may begin on the line itself (the column between the header words starts there)
    found = find_mark(img, 100, 220, 60, LINE_H)
    assert found is not None and found[0] == "-"
    # a '1' as tall as the band (top to bottom edge) in the middle of the row is no rule: it ends there
    one = _band(lambda im: (cv2.line(im, (100, 0), (100, 119), 50, 2), cv2.line(im, (125, 44), (125, 76), 40, 2)))
    assert find_mark(one, 80, 220, 60, LINE_H) is None


def test_a_one_as_tall_as_the_band_beside_a_mark_is_not_erased_as_a_rule():
    """'1+', '1-', '-1' whose '1' reaches the band's top and bottom edges (the band is exactly one text line tall):
    the '1' does not run on beyond the band as a column line does, so the cell holds two glyphs, not a mark."""
    tall_one = lambda im, x: cv2.line(im, (x, 44), (x, 76), 40, 2)  # noqa: E731
    one_plus = _band(lambda im: (tall_one(im, 110), cv2.line(im, (122, 60), (136, 60), 40, 2),
                                 cv2.line(im, (129, 53), (129, 67), 40, 2)))
    one_minus = _band(lambda im: (tall_one(im, 110), cv2.line(im, (122, 60), (132, 60), 40, 2)))
    minus_one = _band(lambda im: (cv2.line(im, (110, 60), (120, 60), 40, 2), tall_one(im, 130)))
    for img in (one_plus, one_minus, minus_one):
        assert find_mark(img, 80, 220, 60, LINE_H) is None


def test_a_dash_beside_a_column_line_crossed_by_a_row_rule_in_the_band():
    """A full grid whose row rule falls inside the band (a tight pitch, a tilted crop): the column line is found
    before the rule across is erased, so the rule does not cut the line's ends off and leave it as ink."""
    def draw(im):
        cv2.line(im, (100, 0), (100, 119), 50, 2)  # the column line
        cv2.line(im, (0, 47), (299, 47), 50, 2)  # the row rule, inside the band (45..75)
        cv2.line(im, (112, 60), (120, 60), 60, 2)  # the hyphen

    found = find_mark(_band(draw), 80, 220, 60, LINE_H)
    assert found is not None and found[0] == "-" and 108 <= found[1][0] <= 114


@pytest.mark.parametrize("width,blur", [(5, 3), (7, 3), (3, 9)])
def test_a_dash_beside_a_thick_or_blurred_column_line(width, blur):
    """A column line 5 px or wider (a high-resolution photo) or blurred wide: the window that compares it with the
    paper beside it scales with the text height, so the line is still told from a band of shade and erased."""
    def draw(im):
        cv2.line(im, (100, 0), (100, 119), 50, width)
        cv2.line(im, (116, 60), (124, 60), 60, 2)

    img = cv2.GaussianBlur(_band(draw), (blur, blur), 0)
    found = find_mark(img, 80, 220, 60, LINE_H)
    assert found is not None and found[0] == "-" and 112 <= found[1][0] <= 118


def test_a_dash_inside_a_broad_band_of_shade_is_not_taken_for_a_rule():
    """A screen's moiré or a soft shadow darkens a broad band of columns from the band's top to its bottom: not a
    rule (a rule is a line, darker than the columns beside it), so the dash inside it is still read."""
    def draw(im):
        im[:, 105:135] = np.clip(im[:, 105:135].astype(int) - 40, 0, 255).astype(np.uint8)  # a band of shade
        cv2.line(im, (118, 60), (128, 60), 30, 2)

    found = find_mark(_band(draw), 80, 220, 60, LINE_H)
    assert found is not None and found[0] == "-"


def test_a_dash_among_moire_stripes_is_still_found():
    """A screen photographed: soft vertical stripes (period 30 px, a few tens of levels deep) run down the page,
    beyond the band too. Wider than the thin-line window and too faint for the thick-line test: not lines, so the
    dash inside one is still read (a window scaled to the text height alone took them for lines)."""
    def draw(im):
        x = np.arange(im.shape[1])
        im[:] = np.clip(im.astype(float) - 14 * (1 + np.cos(2 * np.pi * (x - 124) / 30))[None, :], 0, 255)
        cv2.line(im, (120, 60), (128, 60), 60, 2)

    found = find_mark(_band(draw), 80, 220, 60, 25.0)
    assert found is not None and found[0] == "-"


@pytest.mark.parametrize("width,shade,blur", [(5, 35, 1.6), (5, 30, 0.8), (3, 40, 1.6)])
def test_a_faint_column_line_in_a_blank_cell_is_not_ink(width, shade, blur):
    """A grey grid line (30-45 levels under the paper, thick or blurred) down a blank mark cell: too faint for
    _column_lines to erase, it had come out as the cell's only ink, so an unmarked ± row asked for a re-shoot
    (mark_not_read) that no other photo could answer. A stroke as tall as the band and thin is a line, not ink."""
    def draw(im):
        cv2.line(im, (150, 0), (150, 119), 205 - shade, width)

    img = cv2.GaussianBlur(_band(draw, noise=3), (0, 0), blur)
    assert look_at_mark_cell(img, 80, 220, 60, LINE_H) == (None, False)


def test_a_dash_beside_a_faint_column_line_is_still_read():
    def draw(im):
        cv2.line(im, (150, 0), (150, 119), 170, 5)
        cv2.line(im, (110, 60), (120, 60), 50, 2)

    found, inked = look_at_mark_cell(cv2.GaussianBlur(_band(draw, noise=3), (0, 0), 1.0), 80, 220, 60, LINE_H)
    assert inked and found is not None and found[0] == "-"


def test_a_hyphen_thickened_by_ink_jet_print_is_a_dash():
    """A small '-' that ink-jet print and the photo thicken to about 5 x 3 px at a 30 px line (the stool and urine
    sheets of bench/blind_sheets_d.py): still a flat stroke, at 5:3. A blob of 4 x 3 is a blot or a point, not one."""
    def page(w):
        img = np.clip(np.random.default_rng(1).normal(240, 3, (120, 300)), 0, 255).astype(np.uint8)
        img[59:62, 120:120 + w] = 120
        return img
    assert find_dash(page(5), 80, 220, 60, LINE_H) is not None
    assert find_dash(page(4), 80, 220, 60, LINE_H) is None


def test_a_tiny_hyphen_on_a_small_copy_is_told_from_a_point_by_how_its_ink_spreads():
    """A WeChat-size copy of an ink-jet urine sheet at a 23 px line: its '-' is about 3¼ x 2 px, and thresholded at
    half its contrast it comes out 3 x 2, under the 1.6:1 a flat stroke needs. Its ink still spreads over 1.5
    times as wide as tall (darkness-weighted), so it is the '-'; a point of 3 x 3 or 2½ x 2½ px, or a blot of
    4 x 3, spreads too evenly and is not."""
    def page(w, h):
        k = 4  # drawn 4x finer, then averaged down: the stroke's edges fall between pixels
        img = np.full((120 * k, 300 * k), 205.0)
        img[59 * k:int((59 + h) * k), 120 * k:int((120 + w) * k)] = 135
        img = cv2.GaussianBlur(cv2.resize(img, (300, 120), interpolation=cv2.INTER_AREA), (0, 0), 0.6)
        return np.clip(img + np.random.default_rng(2).normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    assert find_dash(page(3.25, 2), 80, 220, 60, 23.0) is not None
    for w, h in ((3, 3), (2.5, 2.5), (4, 3)):
        assert find_dash(page(w, h), 80, 220, 60, 23.0) is None


def _glyph_band(text, size=26, font="wqy/wqy-zenhei.ttc", blur=True, below=None, pitch=0):
    """A band with ``text`` drawn in a CJK font (and ``below`` it, ``pitch`` px lower, the next row's text), and
    the middle and height of its text line (where a CJK word sits)."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(f"/usr/share/fonts/truetype/{font}", size)
    im = Image.fromarray(_band())
    ImageDraw.Draw(im).text((120, 48), text, font=face, fill=45)
    if below:
        ImageDraw.Draw(im).text((120, 48 + pitch), below, font=face, fill=45)
    im2 = Image.new("L", (300, 120), 255)
    ImageDraw.Draw(im2).text((120, 48), "阴性", font=face, fill=0)
    ys = np.nonzero((np.array(im2) < 128).any(axis=1))[0]
    img = np.array(im)
    return (cv2.GaussianBlur(img, (3, 3), 0) if blur else img), (ys[0] + ys[-1]) / 2, float(ys[-1] - ys[0])


@pytest.mark.parametrize("size", [20, 26, 32])
def test_a_plus_minus_sign_is_a_trace_mark_not_a_plus(size):
    """'±' (trace) as a urine sheet prints it, the detector having dropped it: the bar sits low under the '+', as
    low as the top of the next row's ink would, and at small sizes it runs into the '+'. It is read as '±', never
    as '+' (a trace is not 1+). '+-' printed as two characters is read as '+-'."""
    img, cy, lh = _glyph_band("±", size)
    found = find_mark(img, 80, 220, cy, lh)
    assert found is not None and found[0] == "±"
    img, cy, lh = _glyph_band("+-", size)
    found = find_mark(img, 80, 220, cy, lh)
    assert found is not None and found[0] == "+-"
    img, cy, lh = _glyph_band("+", size)
    assert find_mark(img, 80, 220, cy, lh)[0] == "+"
    if size >= 26:  # (a hyphen of a 20 px font is 4 x 2 px: under what is told from a speck)
        img, cy, lh = _glyph_band("-", size)
        assert find_mark(img, 80, 220, cy, lh)[0] == "-"


def test_a_bar_a_full_row_below_a_plus_is_the_next_rows_mark():
    """A '+' with the next row's '-' under it, a line pitch below, stays '+'; a '-' and a '+' far apart are no
    mark; a '+' with a bar as long as a rule under it is not '±'."""
    plus_then_dash_below = _band(lambda im: (cv2.line(im, (118, 60), (132, 60), 40, 2),
                                             cv2.line(im, (125, 53), (125, 67), 40, 2),
                                             cv2.line(im, (119, 90), (131, 90), 40, 2)))
    assert find_mark(plus_then_dash_below, 80, 220, 60, LINE_H)[0] == "+"
    long_bar = _band(lambda im: (cv2.line(im, (118, 58), (132, 58), 40, 2), cv2.line(im, (125, 51), (125, 65), 40, 2),
                                 cv2.line(im, (100, 69), (150, 69), 40, 2)))
    assert find_mark(long_bar, 80, 220, 60, LINE_H) is None or find_mark(long_bar, 80, 220, 60, LINE_H)[0] != "±"


def test_a_small_blurred_plus_minus_whose_bar_is_faint_is_a_trace_mark():
    """A '±' of a small font, blurred: the crossing of its '+' is dark, its thin bar much fainter, lost by the cell's
    threshold. The bar is still seen under the '+', so the cell is '±' (not '+': a trace is not 1+). The same '+'
    with nothing under it, or with the next row's mark a line below, stays '+'."""
    def pm(bar):
        def draw(im):
            cv2.line(im, (123, 51), (123, 61), 60, 2)
            cv2.line(im, (118, 56), (128, 56), 60, 2)
            if bar:
                cv2.line(im, (118, bar), (128, bar), 110, 1)
        return draw
    found = find_mark(_band(pm(66), noise=2), 80, 220, 58, 31.0)
    assert found is not None and found[0] == "±"
    for bar in (None, 88):
        assert find_mark(_band(pm(bar), noise=2), 80, 220, 58, 31.0)[0] == "+"


def test_a_mark_between_brackets_is_read_with_them():
    """'(±)' that the recogniser garbled ('(t)') is looked at like a lone mark: the brackets, tall and thin, first
    and last, are set aside and the mark between them read; '(-)' and '(+)' alike. A digit between brackets is
    no mark."""
    def bracketed(inner):
        def draw(im):
            cv2.ellipse(im, (118, 60), (5, 12), 0, 100, 260, 40, 2)
            cv2.ellipse(im, (146, 60), (5, 12), 0, -80, 80, 40, 2)
            inner(im)
        return draw
    dash = bracketed(lambda im: cv2.line(im, (127, 61), (137, 61), 40, 2))
    plus = bracketed(lambda im: (cv2.line(im, (126, 58), (138, 58), 40, 2), cv2.line(im, (132, 52), (132, 64), 40, 2)))
    pm = bracketed(lambda im: (cv2.line(im, (126, 57), (138, 57), 40, 2), cv2.line(im, (132, 51), (132, 63), 40, 2),
                               cv2.line(im, (126, 68), (138, 68), 40, 2)))
    one = bracketed(lambda im: cv2.line(im, (132, 50), (132, 70), 40, 2))
    for img, want in ((dash, "(-)"), (plus, "(+)"), (pm, "(±)")):
        found = find_mark(_band(img), 80, 220, 60, LINE_H)
        assert found is not None and found[0] == want, want
        assert found[1][0] <= 114 and found[1][2] >= 149  # the box takes the brackets in
    assert find_mark(_band(one), 80, 220, 60, LINE_H) is None


@pytest.mark.parametrize("size,lh_factor,pitch_factor,below", [(20, 1.4, 1.0, "阴性"), (20, 1.6, 1.0, "二"),
                                                               (32, 1.6, 1.1, "阴性")])
def test_the_next_rows_ink_cut_by_the_band_is_no_bar_of_a_plus_minus(size, lh_factor, pitch_factor, below):
    """Where the text line is measured taller than the row pitch, the band of a '+' cell reaches the top stroke of
    the next row's text ('阴', '二'), cut flat by the band's edge: that is no bar under the '+', which stays '+'
    (a trace is not what the sheet printed)."""
    img, cy, text_h = _glyph_band("+", size, below=below, pitch=int(round(pitch_factor * size)))
    found = find_mark(img, 80, 220, cy, lh_factor * text_h)
    assert found is None or found[0] == "+"
