"""Page geometry on generated pages: perspective, coarse rotation, skew."""
import cv2
import numpy as np
import pytest

from app import geometry
from factories import clean_page, requires_cjk_font
from synth.realistic import keystone_fill

pytestmark = requires_cjk_font


@pytest.fixture(scope="module")
def page():
    return clean_page(seed=2)


def _on_background(page, corners, size=(1280, 960)):
    h, w = page.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, np.float32(corners))
    bg = np.full((size[1], size[0], 3), (60, 80, 70), np.uint8)
    warped = cv2.warpPerspective(page, m, size)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, size)
    return np.where(mask[..., None] > 0, warped, bg)


def test_order_corners():
    pts = np.float32([[10, 200], [300, 190], [5, 5], [310, 0]])
    tl, tr, br, bl = geometry.order_corners(pts)
    assert tuple(tl) == (5, 5) and tuple(tr) == (310, 0) and tuple(br) == (300, 190) and tuple(bl) == (10, 200)


def test_finds_page_quadrilateral_and_unwarps(page):
    corners = [[300, 60], [980, 110], [1010, 900], [260, 880]]
    photo = _on_background(cv2.resize(page, (700, 990)), corners)
    quad = geometry.find_page_quad(photo)
    assert quad is not None
    assert np.abs(quad - np.float32(corners)).max() < 15
    flat = geometry.warp_page(photo, quad)
    assert flat.shape[0] > flat.shape[1]  # portrait page comes back portrait


@pytest.mark.parametrize("desk", [(255, 190, 190), (120, 200, 215)])
def test_page_on_a_desk_as_bright_as_the_paper_is_found_by_its_colour(page, desk):
    """A greyish page on a pastel desk of the same brightness (light blue cloth, a beige table): no grey edge, no
    Otsu split between them, but the colour channels change at the page's edge."""
    dim = (cv2.resize(page, (700, 990)).astype(np.float32) * 0.8).astype(np.uint8)
    corners = [[330, 50], [1000, 120], [1030, 900], [250, 860]]
    photo = _on_background(dim, corners)
    photo[np.all(photo == (60, 80, 70), axis=2)] = desk
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    assert abs(int(grey[500, 990]) - int(grey[500, 1100])) < 12  # page and desk about as bright
    res = geometry.normalise_page(photo)
    assert res.quad is not None
    assert np.abs(np.float32(res.quad) - np.float32(corners)).max() < 15


def test_a_page_outline_broken_at_one_corner_is_still_the_page(page):
    """A sheet on a white table: only a thin shadow line shows its edge, and it fades out at one corner. The
    edge contour is then an open line that encloses nothing, but its hull is the page."""
    small = cv2.resize(page, (700, 990))
    h, w = small.shape[:2]
    corners = np.float32([[300, 60], [980, 110], [1010, 900], [260, 880]])
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    photo = cv2.warpPerspective(small, m, (1280, 960), borderValue=(255, 255, 255))
    start, end = corners[0] + 0.03 * (corners[1] - corners[0]), corners[0] + 0.03 * (corners[3] - corners[0])
    outline = np.array([start, corners[1], corners[2], corners[3], end]).astype(np.int32)
    cv2.polylines(photo, [outline], False, (110, 110, 110), 3)
    res = geometry.normalise_page(photo)
    assert res.quad is not None
    assert np.abs(np.float32(res.quad) - corners).max() < 20


def test_the_page_is_the_largest_candidate_that_leaves_no_text_outside(page, monkeypatch):
    """A candidate outline that cuts through the text (a shadow across the sheet cut the paper mask short) is
    passed over for the next one, rather than leaving the photo without a page."""
    corners = np.float32([[300, 60], [980, 110], [1010, 900], [260, 880]])
    photo = _on_background(cv2.resize(page, (700, 990)), corners.tolist())
    cut = corners.copy()
    cut[1:3, 0] -= 350  # the right half of the sheet cut off
    monkeypatch.setattr(geometry, "page_quads", lambda img: [cut, corners])
    assert np.array_equal(geometry.page_quad_for_text(photo), corners)
    assert np.allclose(geometry.normalise_page(photo).quad, corners)
    monkeypatch.setattr(geometry, "page_quads", lambda img: [cut])
    assert geometry.page_quad_for_text(photo) is None


def test_a_candidate_with_three_corners_on_the_photos_border_is_the_desk_not_the_page(page, monkeypatch):
    """A pale desk merged with the paper into one bright area the frame cuts: its outline has three corners on
    the photo's border and holds all the text, so it was taken as the page and the real sheet inside it was read
    sheared (a 15-row biochemistry sheet at 3 of 15, rows read one into the next). The page inside it is taken.
    A page the frame cuts at one side (two corners on the border) is still the largest candidate."""
    corners = np.float32([[300, 60], [980, 110], [1010, 900], [260, 880]])
    photo = _on_background(cv2.resize(page, (700, 990)), corners.tolist())
    desk = np.float32([[40, 0], [1240, 0], [1279, 950], [150, 930]])
    monkeypatch.setattr(geometry, "page_quads", lambda img: [desk, corners])
    assert np.array_equal(geometry.page_quad_for_text(photo), corners)
    cut = np.float32([[200, 0], [1100, 0], [1150, 900], [170, 910]])
    monkeypatch.setattr(geometry, "page_quads", lambda img: [cut, corners])
    assert np.array_equal(geometry.page_quad_for_text(photo), cut)


def test_no_quad_for_a_plain_scan(page):
    assert geometry.find_page_quad(page) is None


@pytest.mark.parametrize("turn,expected", [(None, 0), (cv2.ROTATE_90_CLOCKWISE, 90),
                                           (cv2.ROTATE_90_COUNTERCLOCKWISE, 90)])
def test_text_orientation(page, turn, expected):
    img = page if turn is None else cv2.rotate(page, turn)
    assert geometry.text_orientation(img) == expected


@pytest.mark.parametrize("angle", [-6.0, -2.5, 3.0, 7.0])
def test_skew_is_measured_and_removed(page, angle):
    h, w = page.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    tilted = cv2.warpAffine(page, m, (w, h), borderValue=(255, 255, 255))
    est = geometry.estimate_skew(tilted)
    assert abs(abs(est) - abs(angle)) < 1.0
    assert abs(geometry.estimate_skew(geometry.deskew(tilted, est))) < 0.6


def _busy_desk(size, seed):
    """A wood-grain desk with clutter: stripes of grain, dark and bright blocks, a keyboard-like grid of letters."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 0.5 + 0.5 * np.sin(yy / 9.0 + 6 * np.sin(xx / 140.0))
    desk = np.stack([70 + 50 * grain, 100 + 60 * grain, 150 + 70 * grain], axis=-1).astype(np.uint8)
    for _ in range(4):
        x, y = int(rng.integers(0, w - 200)), int(rng.integers(0, h - 120))
        cv2.rectangle(desk, (x, y), (x + 180, y + 100), tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    for r in range(4):
        for c in range(12):
            cv2.putText(desk, "QWERTYUIOPAS"[c], (40 + 28 * c, 60 + 30 * r), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (230, 230, 230), 1)
    return desk


@pytest.mark.parametrize("roll", [-35.0, -20.0, 25.0, 40.0])
def test_a_page_held_at_a_large_angle_on_a_busy_desk_is_turned_back(page, roll):
    """No page outline is found on a busy desk, and estimate_skew measures ±15° at most: a phone held at 20-40°
    to the rows left them slanted, and the rows were read one into the next (a 22-row blood count at 0 of 22).
    The roll of the characters' rows is measured at any angle and taken off first."""
    small = cv2.resize(page, (820, 1160))
    h, w = small.shape[:2]
    size = (1900, 1900)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
    m[:, 2] += (size[0] / 2 - w / 2, size[1] / 2 - h / 2)
    sheet = cv2.warpAffine(small, m, size)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, size)
    photo = np.where(mask[..., None] > 0, sheet, _busy_desk(size, 5))
    assert abs(geometry.coarse_roll(photo) - roll) < 1.0
    res = geometry.normalise_page(photo)
    assert abs(res.skew - roll) < 1.5
    assert res.rotation == 0 and abs(geometry.estimate_skew(res.image)) < 1.0


@pytest.mark.parametrize("roll", [-35.0, 30.0])
def test_a_short_sheets_roll_is_read_off_its_own_characters_not_the_desks(page, roll):
    """A three-row sheet at 35° beside a keyboard: the keys' letters line up at 0° and outnumber the sheet's
    characters, so the roll came out 0 and the sheet was read at 0 of 8. Only characters on the paper count."""
    short = cv2.resize(page[:450], (1000, 360))
    h, w = short.shape[:2]
    size = (1700, 1400)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
    m[:, 2] += (size[0] / 2 - w / 2 + 150, size[1] / 2 - h / 2 + 200)
    sheet = cv2.warpAffine(short, m, size)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, size)
    desk = np.full((size[1], size[0], 3), (70, 90, 110), np.uint8)
    cv2.rectangle(desk, (20, 20), (560, 260), (40, 40, 40), -1)
    for r in range(7):
        for c in range(18):
            cv2.putText(desk, "QWERTYUIOPASDFGHJK"[c], (32 + 29 * c, 52 + 30 * r), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                        (235, 235, 235), 2)
    photo = np.where(mask[..., None] > 0, sheet, desk)
    assert abs(geometry.coarse_roll(photo) - roll) < 2.0


def test_an_outline_that_leaves_the_rows_slanted_was_not_the_pages(page, monkeypatch):
    """A bright wood desk merged with the paper into an outline along the photo's sides: squared up by it, the
    rows still ran at 25°, and a urine sheet read 4 of 32. A page's own outline leaves its rows level, so an
    outline that does not is dropped and the roll is taken off instead."""
    small = cv2.resize(page, (820, 1160))
    h, w = small.shape[:2]
    size = (1900, 1700)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 25.0, 1.0)
    m[:, 2] += (size[0] / 2 - w / 2, size[1] / 2 - h / 2)
    sheet = cv2.warpAffine(small, m, size)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, size)
    photo = np.where(mask[..., None] > 0, sheet, _busy_desk(size, 7))
    along_the_sides = np.float32([[0, 150], [1899, 28], [1899, 1406], [0, 1699]])
    monkeypatch.setattr(geometry, "page_quad_for_text", lambda img, ink=None: along_the_sides)
    res = geometry.normalise_page(photo)
    assert res.quad is None and abs(res.skew - 25.0) < 1.5


@pytest.mark.parametrize("turn", [cv2.ROTATE_90_CLOCKWISE, None])
def test_the_rows_angle_is_taken_modulo_a_quarter_turn(page, turn):
    """Rows and a table's columns line up at the same angle modulo 90: a page turned by a quarter is no roll."""
    img = page if turn is None else cv2.rotate(page, turn)
    assert abs(geometry.coarse_roll(img)) < 0.5


@pytest.mark.parametrize("frac", [0.08, 0.12])
def test_a_diagonal_hatch_on_a_level_page_is_no_roll(page, frac):
    """A dashed 45° hatch (a chart's fill, a security background) over part of a level page lines its dashes up
    along the diagonal: it stood out over the median angle, and the page was turned by 45° (13 rows read as 7, some
    wrong; found by a review). A roll past 12° must also stand out over the page's own level rows."""
    img = page.copy()
    h, w = img.shape[:2]
    y0, y1 = int(h * 0.55), int(h * (0.55 + frac))
    region = np.full((y1 - y0, w), 255, np.uint8)
    for c in range(-w, w + h, 14):
        cv2.line(region, (c, 0), (c + (y1 - y0), y1 - y0), 0, 2)
    yy, xx = np.mgrid[0:y1 - y0, 0:w]
    region[((xx // 8 + yy // 8) % 2) == 0] = 255
    img[y0:y1][region < 128] = 40
    assert geometry.coarse_roll(img) == 0.0
    assert geometry.normalise_page(img).rotation == 0


def test_no_rows_no_roll():
    noise = np.random.default_rng(3).integers(0, 255, (600, 800, 3)).astype(np.uint8)
    assert geometry.coarse_roll(noise) == 0.0


def test_normalise_page_rotated_photo(page):
    corners = [[200, 40], [1060, 60], [1080, 920], [180, 900]]
    photo = cv2.rotate(_on_background(cv2.resize(page, (700, 990)), corners), cv2.ROTATE_90_CLOCKWISE)
    res = geometry.normalise_page(photo)
    assert res.rotation == 90
    assert geometry.text_orientation(res.image) == 0


@pytest.mark.parametrize("tilt", [-10.0, 8.0])
def test_tilted_keystoned_page_on_a_dark_desk_is_found_and_flattened(page, tilt):
    """A page photographed at an angle on a dark desk: the bright paper next to the desk leaves a band of dark
    'ink' along the page's edges (adaptive threshold). That band is not text outside the page, so the page is
    still found, and the perspective is undone rather than left to a skew rotation."""
    small = cv2.resize(page, (700, 990))
    h, w = small.shape[:2]
    quad = np.float32([[60, 0], [w - 60, 0], [w, h], [0, h]])  # the top edge further away: 17 % shorter
    c = quad.mean(axis=0)
    r = np.deg2rad(tilt)
    rot = np.float32([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    corners = (quad - c) @ rot.T + np.float32([640, 560])
    photo = _on_background(small, corners.tolist(), size=(1280, 1120))
    res = geometry.normalise_page(photo)
    assert res.quad is not None
    assert np.abs(np.float32(res.quad) - corners).max() < 20
    assert abs(res.skew) < 1.5
    assert res.image.shape[0] > res.image.shape[1]


def test_dark_text_beside_a_quad_on_the_photos_frame_still_counts_as_outside():
    """A 'page' whose sides run along the photo's border is the frame cutting the paper. What is dark just beside
    its inner side is then not a desk's halo but may be text in a shadow (a column of the sheet the quad cut off),
    and must count as outside: enough of it and the quad is not used."""
    img = np.full((600, 800, 3), 235, np.uint8)
    img[:, 552:] = 80  # in shadow beyond the quad's right side
    for y in range(40, 560, 24):
        for x in range(40, 520, 22):  # text on the page
            cv2.rectangle(img, (x, y), (x + 12, y + 12), (20, 20, 20), 2)
        cv2.rectangle(img, (556, y), (568, y + 12), (5, 5, 5), 2)  # the cut-off column, right beside the quad
    quad = np.float32([[0, 0], [550, 0], [550, 599], [0, 599]])  # left, top and bottom sides on the frame
    assert geometry.text_outside_quad(img, quad) > 0.03


@pytest.mark.parametrize("edge,shrink", [("t", 0.18), ("l", 0.18), ("t", 0.1), ("l", 0.14)])
def test_perspective_of_a_page_filling_the_frame_is_read_from_its_text(page, edge, shrink):
    """No page edge in view: the vanishing points of the text rows and of the table's column edges give the
    homography. Composed with the known warp it must leave the page a rectangle again (parallel sides of equal
    length), and normalise_page must apply it."""
    photo, m_true = keystone_fill(page, edge, shrink)
    assert geometry.find_page_quad(photo) is None
    fit = geometry.perspective_from_text(photo)
    assert fit is not None
    m, (ow, oh), rows_fanned = fit
    assert rows_fanned == (edge == "l")
    h, w = page.shape[:2]
    corners = cv2.perspectiveTransform(np.float32([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]]), m @ m_true)
    tl, tr, br, bl = corners.reshape(4, 2)
    top, bottom = np.linalg.norm(tr - tl), np.linalg.norm(br - bl)
    left, right = np.linalg.norm(bl - tl), np.linalg.norm(br - tr)
    # before the fit the short edge is `shrink` shorter; after it, within 3 %
    assert abs(top - bottom) / max(top, bottom) < 0.03
    assert abs(left - right) / max(left, right) < 0.03
    assert abs(np.degrees(np.arctan2(*(tr - tl)[::-1]))) < 1.0  # rows level
    assert abs(np.degrees(np.arctan2((bl - tl)[0], (bl - tl)[1]))) < 1.0  # columns upright
    res = geometry.normalise_page(photo)
    assert res.quad is None and res.text_perspective
    assert res.as_dict()["text_perspective"] is True


def test_upright_page_is_left_alone_by_the_text_perspective(page):
    assert geometry.perspective_from_text(page) is None
    res = geometry.normalise_page(page)
    assert not res.text_perspective


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_moire_is_neither_a_turn_nor_a_skew(page, seed):
    """A photo of the sheet on a screen: interference bands run across the text lines, almost upright. Their dark
    troughs turn into long stripes in the thresholded ink, which read as vertical text lines (a 90° turn) and, folded
    by 90°, as tilted ones (a false skew). The page is upright and straight."""
    import random

    from synth.realistic import _moire

    photo = _moire(random.Random(seed), page)
    assert geometry.text_orientation(photo) == 0
    assert abs(geometry.estimate_skew(photo)) < 0.5


def test_a_photographed_screens_pixel_grid_is_found_and_smoothed_away(page):
    """A photo of a monitor shows its sub-pixel grid (a period of 3 px here) as a sharp peak of the spectrum; a
    printed page, a JPEG of it at low quality (its 8 x 8 blocks) and a page of ruled lines show none."""
    from factories import screen_photo

    screen = screen_photo(page)
    assert geometry.screen_grid_period(screen) == pytest.approx(3.0, abs=0.1)
    smoothed = geometry.smooth_screen_grid(screen)
    assert smoothed is not None and smoothed.shape == screen.shape

    def jitter(im):  # the step from one pixel to the next, which the grid makes large everywhere
        return float(np.abs(np.diff(im.astype(np.float32), axis=1)).mean())
    assert jitter(smoothed) < 0.4 * jitter(screen)
    assert geometry.screen_grid_period(page) is None and geometry.smooth_screen_grid(page) is None
    jpeg = cv2.imdecode(np.frombuffer(cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], np.uint8),
                        cv2.IMREAD_COLOR)
    assert geometry.screen_grid_period(jpeg) is None
    ruled = np.full((900, 700, 3), 230, np.uint8)
    ruled[::30] = 120
    assert geometry.screen_grid_period(ruled) is None


def test_a_quad_cut_diagonally_from_the_photos_corner_is_no_page():
    # the hull of a shadow's edges reaching the frame's corner: a side from the corner (0, 0) runs across the frame,
    # not along its border; a page the frame cuts at its corner has both sides there along the border
    from app.geometry import _frame_corner_artefact

    w, h = 1685, 2996
    assert _frame_corner_artefact(np.array([[0, 0], [1483, 726], [1557, 2730], [0, 2992]], np.float32), w, h)
    assert not _frame_corner_artefact(np.array([[0, 0], [1200, 0], [1250, 1800], [0, 1900]], np.float32), w, h)
    assert not _frame_corner_artefact(np.array([[59, 823], [1490, 715], [1580, 2771], [161, 2793]], np.float32),
                                      w, h)
    # the frame itself, a little off along the bottom: its corner's side runs nearly along the border
    assert not _frame_corner_artefact(np.array([[0, 0], [1098, 0], [1098, 819], [0, 797]], np.float32), 1100, 822)


def _two_sheets(left, right, gap_tone, size=(1600, 900), frame=False):
    """Two pages side by side on a dark desk, each a little turned; gap_tone: what lies between and round them
    (a desk, or the white of one larger sheet they are printed on). frame: a ruled box round each."""
    out = np.full((size[1], size[0], 3), gap_tone, np.uint8)
    for page, x0, angle in ((left, 60, 2.0), (right, 830, -1.5)):
        p = cv2.resize(page, (700, int(700 * page.shape[0] / page.shape[1])))
        if frame:
            cv2.rectangle(p, (2, 2), (p.shape[1] - 3, p.shape[0] - 3), (20, 20, 20), 3)
        h, w = p.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += (x0, (size[1] - h) / 2)
        mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, size)
        out = np.where(mask[..., None] > 0, cv2.warpAffine(p, m, size), out)
    return out


def test_two_sheets_side_by_side_are_cut_apart_in_reading_order(page):
    """A patient shoots two reports lying side by side on a desk. Read as one page, each row would run from one
    sheet into the other; each sheet is found (its own outline, its own text, desk between them) and returned in
    reading order."""
    other = clean_page(seed=5, panel="liver")
    photo = _two_sheets(page, other, (60, 80, 70))
    boxes = geometry.sheet_boxes(photo)
    assert len(boxes) == 2
    (ax0, _, ax1, _), (bx0, _, bx1, _) = boxes
    assert ax0 < 60 < 760 < ax1 and bx0 < 830 < 1530 < bx1  # each box holds its whole sheet ...
    assert ax1 < 900 and bx0 > 700  # ... and not the other one


def test_one_sheet_is_not_cut(page):
    photo = _on_background(cv2.resize(page, (700, 990)), [[300, 60], [980, 110], [1010, 900], [260, 880]])
    assert geometry.sheet_boxes(photo) == []


def test_two_framed_blocks_on_one_sheet_are_not_two_sheets(page):
    """The same two tables, each in a ruled box, printed side by side on one sheet: the paper between them is as
    bright as theirs, so they are one page's two blocks, not two sheets."""
    other = clean_page(seed=5, panel="liver")
    assert geometry.sheet_boxes(_two_sheets(page, other, (235, 235, 235), frame=True)) == []
    assert len(geometry.sheet_boxes(_two_sheets(page, other, (60, 80, 70), frame=True))) == 2


def _across_the_page(page, what):
    """One page on a desk with something dark lying right across it (it cuts the bright paper in two)."""
    photo = _on_background(cv2.resize(page, (715, 740)), [[290, 110], [1000, 120], [1005, 850], [285, 845]])
    if what == "pen":
        cv2.line(photo, (588, 60), (612, 900), (35, 35, 40), 35)
    elif what == "phone":
        cv2.fillConvexPoly(photo, np.int32([[560, 40], [640, 40], [650, 920], [570, 920]]), (25, 25, 25))
    else:  # a shadow band, or a fold's crease with the far half turned away from the light
        xs = np.arange(photo.shape[1], dtype=np.float32)
        f = 1 - 0.6 * np.clip((50 - np.abs(xs - 620)) / 20, 0, 1)
        if what == "fold":
            f[645:1010] *= 0.72
        photo = (photo * f[None, :, None]).astype(np.uint8)
    return photo


@pytest.mark.parametrize("what", ["pen", "phone", "shadow", "fold"])
def test_something_dark_across_one_page_does_not_make_two_sheets(page, what):
    """A pen, a phone, a shadow band or a fold's crease right across one page cuts its paper in two, with dark
    between the halves; but the halves continue each other (their facing corners level at both ends), so they
    are one page."""
    assert geometry.sheet_boxes(_across_the_page(page, what)) == []
