"""Browsing, search, one tip, favourites: through the real app on real Postgres."""
import uuid

from conftest import as_admin, as_user


def _all_pages(client, user, **params):
    seen, cursor, pages = [], None, 0
    while pages < 40:
        r = client.get("/v1/tips", params={**params, **({"cursor": cursor} if cursor else {})}, auth=as_user(user))
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return seen, pages
    raise AssertionError("pagination did not end")


def test_browse_by_category_with_cursor_pages_everything_once(client, ctx, user):
    seeded = sum(1 for t in ctx.catalogue.tips if t.category == "diet")
    ids, pages = _all_pages(client, user, category="diet", limit=7)
    r = client.get("/v1/tips", params={"category": "diet", "limit": 50}, auth=as_user(user)).json()
    one_page = [t["id"] for t in r["items"]]
    assert len(ids) == len(set(ids)) and ids == one_page and len(ids) >= seeded   # admin tests may add some
    assert pages == -(-len(ids) // 7)
    assert {t["category"] for t in r["items"]} == {"diet"}
    assert r["items"][0]["category_name"] == "饮食调理"


def test_unknown_category_is_a_clear_422(client, user):
    r = client.get("/v1/tips", params={"category": "cooking"}, auth=as_user(user))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unknown_category"
    assert set(err["details"]["allowed"]) == {"prevention", "medication", "diet", "exercise"}


def test_bad_cursor_is_a_422(client, user):
    for cursor in ("not-base64!!", "eyJvIjoiZmF2b3JpdGVzIn0"):
        r = client.get("/v1/tips", params={"cursor": cursor}, auth=as_user(user))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"


def test_search_in_chinese_and_english(client, user):
    zh = client.get("/v1/tips", params={"q": "尿酸", "limit": 10}, auth=as_user(user)).json()["items"]
    assert zh and all("UA" in t["links"]["indicators"] or "痛风" in t["title"] + t["summary"] or "尿酸" in
                      t["title"] + t["summary"] + " ".join(t["tags"]) for t in zh[:3])
    en = client.get("/v1/tips", params={"q": "warfarin", "lang": "en"}, auth=as_user(user)).json()["items"]
    assert en and en[0]["lang"] == "en" and "arfarin" in en[0]["title"]
    # Code search and a two-word query; results are ranked with cursor pages of their own.
    ldl = client.get("/v1/tips", params={"q": "低密度脂蛋白 饮食", "limit": 3}, auth=as_user(user)).json()
    assert "LDL-C" in ldl["items"][0]["links"]["indicators"]
    assert ldl["next_cursor"]
    page2 = client.get("/v1/tips", params={"q": "低密度脂蛋白 饮食", "limit": 3, "cursor": ldl["next_cursor"]},
                       auth=as_user(user)).json()
    assert not {t["id"] for t in page2["items"]} & {t["id"] for t in ldl["items"]}
    # A search cursor cannot be replayed on the plain listing.
    r = client.get("/v1/tips", params={"cursor": ldl["next_cursor"]}, auth=as_user(user))
    assert r.status_code == 422
    assert client.get("/v1/tips", params={"q": "zzzqqqxxx"}, auth=as_user(user)).json()["items"] == []


def test_reading_a_tip_counts_a_view_and_returns_safe_html(client, user):
    tip = client.get("/v1/tips", params={"q": "甘油三酯"}, auth=as_user(user)).json()["items"][0]
    first = client.get(f"/v1/tips/{tip['id']}", auth=as_user(user)).json()
    second = client.get(f"/v1/tips/{tip['id']}", auth=as_user(f"{user}-b")).json()
    assert second["view_count"] == first["view_count"] + 1
    assert first["body_html"].startswith("<") and "<script" not in first["body_html"]
    assert first["references"] and first["references"][0]["title"]


def test_missing_tip_is_404(client, user):
    r = client.get(f"/v1/tips/{uuid.uuid4()}", auth=as_user(user))
    assert r.status_code == 404 and r.json()["error"]["code"] == "tip_not_found"


def test_favourites_idempotent_synced_and_private(client, user):
    tips = client.get("/v1/tips", params={"category": "exercise", "limit": 3}, auth=as_user(user)).json()["items"]
    a, b = tips[0]["id"], tips[1]["id"]
    r1 = client.put(f"/v1/favorites/{a}", auth=as_user(user))
    r2 = client.put(f"/v1/favorites/{a}", auth=as_user(user))
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["created_at"] == r2.json()["created_at"]
    assert r2.json()["tip"]["favorite_count"] == r1.json()["tip"]["favorite_count"]   # counted once
    client.put(f"/v1/favorites/{b}", auth=as_user(user))
    # "Another device" is just another request as the same user: the same list, newest first.
    listing = client.get("/v1/favorites", params={"limit": 1}, auth=as_user(user)).json()
    assert [f["tip_id"] for f in listing["items"]] == [b] and listing["next_cursor"]
    rest = client.get("/v1/favorites", params={"cursor": listing["next_cursor"]}, auth=as_user(user)).json()
    assert [f["tip_id"] for f in rest["items"]] == [a] and rest["next_cursor"] is None
    assert client.get(f"/v1/tips/{a}", auth=as_user(user)).json()["favorited"] is True
    # Someone else sees none of it.
    assert client.get("/v1/favorites", auth=as_user(f"{user}-other")).json()["items"] == []
    assert client.get(f"/v1/tips/{a}", auth=as_user(f"{user}-other")).json()["favorited"] is False
    # Removing twice is fine too.
    assert client.delete(f"/v1/favorites/{a}", auth=as_user(user)).status_code == 204
    assert client.delete(f"/v1/favorites/{a}", auth=as_user(user)).status_code == 204
    assert [f["tip_id"] for f in client.get("/v1/favorites", auth=as_user(user)).json()["items"]] == [b]


def test_favouriting_a_missing_or_draft_tip_is_404(client, user):
    r = client.put(f"/v1/favorites/{uuid.uuid4()}", auth=as_user(user))
    assert r.status_code == 404 and r.json()["error"]["code"] == "tip_not_found"
    assert client.delete(f"/v1/favorites/{uuid.uuid4()}", auth=as_user(user)).status_code == 404
    draft = client.post("/v1/admin/tips", json={"category": "diet", "title": "草稿标题", "summary": "草稿摘要",
                                                  "body": "草稿正文内容"}, auth=as_admin()).json()
    assert client.put(f"/v1/favorites/{draft['id']}", auth=as_user(user)).status_code == 404


def test_categories_and_references_are_listed(client, user):
    cats = client.get("/v1/categories", auth=as_user(user)).json()
    assert {c["id"]: c["name"] for c in cats}["prevention"] == "疾病预防"
    assert any(r["id"] == "cn-lipid-2023" for r in client.get("/v1/references", auth=as_user(user)).json())
