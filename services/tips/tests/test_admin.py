"""Admin: drafts, preview, publish, edit tags, links checked against knowledge, images, delete."""
import io
import uuid

from PIL import Image

from conftest import as_admin, as_user
from factories import jpeg_with_exif, png_bomb, tip_body


def test_non_admin_cannot_use_admin_routes(client, user):
    r = client.post("/v1/admin/tips", json=tip_body(), auth=as_user(user))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/admin/tips", auth=as_user(user)).status_code == 403


def test_draft_lifecycle_with_auto_tags(client, user):
    r = client.post("/v1/admin/tips", json=tip_body(slug=f"oat-{uuid.uuid4().hex[:6]}"), auth=as_admin())
    assert r.status_code == 201, r.text
    tip = r.json()
    assert tip["status"] == "draft" and tip["tags_source"] == "auto"
    # jieba against the knowledge lexicon: the body names LDL-C, hypertension and gout.
    assert "低密度脂蛋白胆固醇" in tip["tags"]
    assert "LDL-C" in tip["links"]["indicators"]
    assert {"hypertension", "gout"} <= set(tip["links"]["conditions"])
    assert "<strong>燕麦</strong>" in tip["body_html"]
    # Invisible to readers until published.
    assert client.get(f"/v1/tips/{tip['id']}", auth=as_user(user)).status_code == 404
    assert client.get(f"/v1/admin/tips/{tip['id']}", auth=as_admin()).json()["body_html"] == tip["body_html"]
    drafts = client.get("/v1/admin/tips", params={"status": "draft", "limit": 50}, auth=as_admin()).json()
    assert tip["id"] in [t["id"] for t in drafts["items"]]
    pub = client.post(f"/v1/admin/tips/{tip['id']}/publish", auth=as_admin()).json()
    assert pub["status"] == "published" and pub["published_at"]
    assert client.get(f"/v1/tips/{tip['id']}", auth=as_user(user)).status_code == 200
    found = client.get("/v1/tips", params={"q": "燕麦早餐"}, auth=as_user(user)).json()["items"]
    assert found and found[0]["id"] == tip["id"]
    # Admin edits tags: kept as written.
    edited = client.patch(f"/v1/admin/tips/{tip['id']}", json={"tags": ["早餐", "燕麦"]}, auth=as_admin()).json()
    assert edited["tags"] == ["早餐", "燕麦"] and edited["tags_source"] == "admin"
    edited = client.patch(f"/v1/admin/tips/{tip['id']}", json={"body": "换一段正文，讲讲糖化血红蛋白。"},
                          auth=as_admin()).json()
    assert edited["tags"] == ["早餐", "燕麦"]
    assert client.post(f"/v1/admin/tips/{tip['id']}/unpublish", auth=as_admin()).json()["status"] == "draft"
    assert client.get(f"/v1/tips/{tip['id']}", auth=as_user(user)).status_code == 404
    assert client.delete(f"/v1/admin/tips/{tip['id']}", auth=as_admin()).status_code == 204
    assert client.get(f"/v1/admin/tips/{tip['id']}", auth=as_admin()).status_code == 404


def test_invalid_admin_input_is_refused_clearly(client):
    r = client.post("/v1/admin/tips", json=tip_body(indicators=["NOT-A-CODE"], conditions=["gout"]),
                    auth=as_admin())
    assert r.status_code == 422 and r.json()["error"]["details"]["unknown"] == {"indicator": ["NOT-A-CODE"]}
    r = client.post("/v1/admin/tips", json=tip_body(category="cooking"), auth=as_admin())
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_category"
    r = client.post("/v1/admin/tips", json=tip_body(references=["nope"]), auth=as_admin())
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_reference"
    r = client.post("/v1/admin/tips", json=tip_body(color="red"), auth=as_admin())
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.post("/v1/admin/tips", json=tip_body(tags=["x" * 61]), auth=as_admin())
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.post("/v1/admin/tips", json=tip_body(title="含\x00字符"), auth=as_admin())
    assert r.status_code == 422
    r = client.post("/v1/admin/tips", json=tip_body(slug="ldl-high-diet"), auth=as_admin())
    assert r.status_code == 409 and r.json()["error"]["code"] == "slug_taken"


def test_preview_sanitises_and_suggests(client):
    r = client.post("/v1/admin/preview", json={"body": "服用**华法林**要查INR <script>alert(1)</script>"
                                                       " <a href='javascript:x()'>x</a>"}, auth=as_admin())
    assert r.status_code == 200
    body = r.json()
    assert "<script" not in body["body_html"] and "javascript:" not in body["body_html"]
    assert "INR" in body["suggested_links"]["indicators"]


def test_images_are_stored_in_sizes_and_served(client, user):
    tip = client.post("/v1/admin/tips", json=tip_body(), auth=as_admin()).json()
    r = client.post(f"/v1/admin/tips/{tip['id']}/images", params={"alt": "一碗燕麦"}, content=jpeg_with_exif(1600, 900),
                    headers={"content-type": "image/jpeg"}, auth=as_admin())
    assert r.status_code == 201, r.text
    image = r.json()["images"][0]
    assert (image["width"], image["height"]) == (900, 1600)
    assert {(v["width"], v["format"]) for v in image["variants"]} == {
        (w, f) for w in (320, 640, 900) for f in ("webp", "jpeg")}
    client.post(f"/v1/admin/tips/{tip['id']}/publish", auth=as_admin())
    got = client.get(f"/v1/tips/{tip['id']}/images/{image['id']}", params={"width": 500, "format": "jpeg"},
                     auth=as_user(user))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(got.content))
    assert img.size == (640, round(1600 * 640 / 900)) and not img.getexif()
    webp = client.get(f"/v1/tips/{tip['id']}/images/{image['id']}", auth=as_user(user))
    assert webp.headers["content-type"] == "image/webp"
    bomb = client.post(f"/v1/admin/tips/{tip['id']}/images", content=png_bomb(),
                       headers={"content-type": "image/png"}, auth=as_admin())
    assert bomb.status_code == 422 and bomb.json()["error"]["code"] == "image_too_many_pixels"
    junk = client.post(f"/v1/admin/tips/{tip['id']}/images", content=b"GIF89a-broken",
                       headers={"content-type": "image/gif"}, auth=as_admin())
    assert junk.status_code == 422 and junk.json()["error"]["code"] == "image_unreadable"
    # Nothing half-written: still one image.
    assert len(client.get(f"/v1/admin/tips/{tip['id']}", auth=as_admin()).json()["images"]) == 1
    assert client.delete(f"/v1/admin/tips/{tip['id']}/images/{image['id']}", auth=as_admin()).status_code == 204
    assert client.get(f"/v1/tips/{tip['id']}/images/{image['id']}", auth=as_user(user)).status_code == 404
