"""Digits as points in a real browser on the session lab's tiny GM-VAE "gm" (64 points, an input atlas):
"digits: on" draws one thumbnail per point whose icon frames are the atlas's tiles (x = (i % columns) * w,
y = floor(i / columns) * h) in the points' own colours on dark tiles, a tile is picked anywhere on it, and
"auto" follows the rule (three in four points at least 0.8 x 24 px from their nearest neighbour on screen,
2-D): off or on at the first view as the rule says, on after zooming in far; "off" never draws them."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

SPRITES = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'sprites');
  const points = deck.props.layers.find((l) => l.id === 'points');
  if (!layer) return { drawn: false, pointsVisible: points.props.visible };
  const drawn = deck.layerManager.getLayers().find((l) => l.id === 'sprites');
  const defs = drawn.getAttributeManager().attributes.instanceIconDefs.value;
  return { drawn: true, pointsVisible: points.props.visible, count: layer.props.data.length, size: layer.props.sizeScale,
           mapping: layer.props.iconMapping, defs: Array.from(defs.subarray(0, 7 * layer.props.data.length)),
           colours: Array.from(layer.props.data.attributes.getColor.value), blend: layer.props.parameters.blend,
           pointColours: Array.from(points.props.data.attributes.getFillColor.value),
           sameAt: layer.props.data.attributes.getPosition.value === points.props.data.attributes.getPosition.value,
           loaded: drawn.isLoaded };
}"""

AUTO_FRACTION, SPRITE_PX = 0.8, 24
TILE = np.array([21, 23, 28])  # SpriteLayer's tile colour (0.082, 0.090, 0.110)


def ink_colour(rgb) -> np.ndarray:
    """SpriteLayer's ink: the point's colour, a dark one lifted toward white."""
    c = np.asarray(rgb, dtype=float) / 255
    t = min(max((0.5 - c @ [0.2126, 0.7152, 0.0722]) * 1.2, 0), 1)
    return 255 * (c + (1 - c) * t)


def spacing_px(screen: list[list[float]]) -> float:
    """The rule's measure: the lower quartile of every point's nearest-neighbour distance on screen."""
    at = np.array(screen)
    d = np.sqrt(((at[:, None, :] - at[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    nearest = np.sort(d.min(1))
    return float(nearest[int(0.25 * len(nearest))])


def zoom_of(canvas) -> float:
    return json.loads(canvas.locator("[data-frames]").get_attribute("data-view"))["zoom"]


def choose(page, mode: str) -> None:
    toggle = page.get_by_test_id("sprites-toggle")
    toggle.locator(f"button[data-value='{mode}']").click()
    expect(toggle).to_have_attribute("data-mode", mode)


def test_digits_on_draws_one_atlas_tile_per_point_in_its_colour(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    atlas = lab.file("gm", "atlas/atlas_inputs.json")
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    assert atlas["indices"] == projection["indices"], "the atlas holds the map's points in the map's order"
    h, w = atlas["tile"]
    toggle = page.get_by_test_id("sprites-toggle")
    expect(toggle).to_have_attribute("data-mode", "auto")

    choose(page, "on")
    expect(toggle).to_have_attribute("data-shown", "true")
    page.wait_for_function(f"(box) => {{ const s = ({SPRITES})(box); return s.drawn && s.loaded; }}",
                           arg=canvas.element_handle())
    m.wait_drawn(page)
    drawn = canvas.evaluate(SPRITES)
    assert drawn["count"] == m.N and not drawn["pointsVisible"], "one thumbnail per point, instead of the dots"
    assert drawn["sameAt"], "the thumbnails use the points' own position buffer"
    colours = np.array(drawn["pointColours"]).reshape(-1, 4)
    solid = colours.copy()
    solid[solid[:, 3] >= 200, 3] = 255
    assert set(colours[:, 3]) <= {0, 220} and drawn["colours"] == solid.ravel().tolist() and drawn["blend"] is False, \
        "nothing dimmed: the points' colours, drawn opaque without blending"
    assert drawn["size"] == SPRITE_PX
    want = {str(i): {"x": (i % atlas["columns"]) * w, "y": (i // atlas["columns"]) * h, "width": w, "height": h, "mask": False}
            for i in range(m.N)}
    assert drawn["mapping"] == want, "the icon mapping is the atlas's layout"
    defs = np.array(drawn["defs"]).reshape(m.N, 7)
    assert defs[:, 2:6].tolist() == [[v["x"], v["y"], w, h] for v in want.values()], "point i is drawn from tile i"

    # the pixels: a dark tile around the point, with its digit's ink in the point's colour
    from PIL import Image

    screen = canvas.evaluate(m.SCREEN)
    i = m.isolated(screen)
    gap = min(math.dist(screen[i], p) for j, p in enumerate(screen) if j != i)
    image = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    shot(page, "latent-digits-on")
    if gap >= SPRITE_PX * 1.5:  # no other tile over this one
        # the drawn tile, read back as ink (0 = the tile's dark ground, 1 = the digit's colour), matches the
        # atlas's tile i resampled to the drawn size, better than any tile of another label
        sheet = Image.open(lab.runs / lab.ids["gm"] / atlas["png"]).convert("L")

        def tile_of(j: int) -> np.ndarray:
            col, row = j % atlas["columns"], j // atlas["columns"]
            cut = sheet.crop((col * w, row * h, (col + 1) * w, (row + 1) * h)).resize((SPRITE_PX, SPRITE_PX), Image.BILINEAR)
            return (np.asarray(cut).astype(float) / 255)[2:-2, 2:-2]  # inside the frame

        a = 1.0  # drawn opaque
        ground = np.array((0xFB, 0xFB, 0xFA))
        base, top = a * TILE + (1 - a) * ground, a * ink_colour(colours[i][:3]) + (1 - a) * ground
        x, y = (round(v) for v in screen[i])
        around = image[y - 16:y + 16, x - 16:x + 16]
        ink = (around - base) @ (top - base) / ((top - base) @ (top - base))
        want = tile_of(i)
        fits = {(dx, dy): np.corrcoef(ink[6 + dy:26 + dy, 6 + dx:26 + dx].ravel(), want.ravel())[0, 1]
                for dx in range(-4, 5) for dy in range(-4, 5)}
        (dx, dy), best = max(fits.items(), key=lambda kv: kv[1])
        assert best > 0.8 and max(abs(dx), abs(dy)) <= 3, f"point {i} shows its atlas tile (r = {best:.2f} at {dx}, {dy} px)"
        seen = ink[6 + dy:26 + dy, 6 + dx:26 + dx].ravel()
        others = [j for j in range(m.N) if projection["labels"][j] != projection["labels"][i]]
        assert all(np.corrcoef(seen, tile_of(j).ravel())[0, 1] < best for j in others), "its own tile, not another digit's"
        assert np.median(seen) < 0.35, "on a dark tile"
        # a tile is picked anywhere on it, not only at the dot (radius 5 + picking 4 < 11 px from the centre)
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + screen[i][0] + 8, box["y"] + screen[i][1] + 8)
        expect(page.get_by_test_id("hover-card")).to_have_attribute("data-index", str(projection["indices"][i]))

    # a filter dims the others: their tiles are blended at the dimmed points' opacity, faint on the map
    page.mouse.move(0, 0)  # no hover: no edges drawn from the point
    other = next(v for v in sorted(set(projection["labels"])) if v != projection["labels"][i])
    page.get_by_test_id("map-filter").fill(f"label:{other}")
    page.wait_for_function(f"(box) => ({SPRITES})(box).blend === true", arg=canvas.element_handle())
    m.wait_drawn(page)
    page.wait_for_timeout(300)
    dimmed = canvas.evaluate(SPRITES)
    assert dimmed["colours"] == dimmed["pointColours"], "some points dimmed: the points' own colours, blended"
    assert np.array(dimmed["colours"]).reshape(-1, 4)[i, 3] == 26
    if gap >= SPRITE_PX * 1.5:
        faint = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("L")).astype(float)
        x, y = (round(v) for v in screen[i])
        inside = faint[y - 8:y + 8, x - 8:x + 8]
        assert inside.mean() > 200, f"a dimmed point's tile is faint (mean grey {inside.mean():.0f})"
    shot(page, "latent-digits-dimmed")
    page.get_by_test_id("map-filter").fill("")

    choose(page, "off")
    expect(toggle).to_have_attribute("data-shown", "false")
    assert not canvas.evaluate(SPRITES)["drawn"]


def test_auto_follows_the_rule_and_turns_on_when_zoomed_in_far(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    toggle = page.get_by_test_id("sprites-toggle")
    expect(toggle).to_have_attribute("data-mode", "auto")
    zoom0 = zoom_of(canvas)
    spacing0 = spacing_px(canvas.evaluate(m.SCREEN))
    threshold = AUTO_FRACTION * SPRITE_PX
    expect(toggle).to_have_attribute("data-auto", "true" if spacing0 >= threshold else "false")
    expect(toggle).to_have_attribute("data-shown", "true" if spacing0 >= threshold else "false")
    need = math.log2(threshold / spacing0)  # zoom steps until auto turns on

    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    checked_below = False
    for _ in range(40):
        dz = zoom_of(canvas) - zoom0
        if dz > need + 0.3:
            break
        if need - dz > 0.3:  # clearly short of the rule: still dots
            expect(toggle).to_have_attribute("data-shown", "false")
            checked_below = True
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(120)
    m.wait_drawn(page)
    spacing = spacing_px(canvas.evaluate(m.SCREEN))
    assert spacing >= threshold, f"zoomed in: {spacing:.1f} px between neighbours"
    assert spacing == pytest.approx(spacing0 * 2 ** (zoom_of(canvas) - zoom0), rel=0.01), "spacing scales with 2^zoom"
    expect(toggle).to_have_attribute("data-shown", "true")
    expect(toggle.locator("button[data-value='auto']")).to_have_text("auto (on)")
    page.wait_for_function(f"(box) => ({SPRITES})(box).drawn", arg=canvas.element_handle())
    assert checked_below or need <= 0.3, "the first view was checked short of the rule"
    shot(page, "latent-digits-auto")

    choose(page, "off")
    assert not canvas.evaluate(SPRITES)["drawn"], "off draws dots even zoomed in"
    choose(page, "auto")
    page.get_by_test_id("camera-reset").click()  # back to the whole map: the rule decides again
    page.wait_for_timeout(300)
    expect(toggle).to_have_attribute("data-shown", "true" if spacing0 >= threshold else "false")
