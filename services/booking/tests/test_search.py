"""Doctor search over the seeded catalogue: Chinese full text, filters, ranking and cursor pagination."""
from zhenxi_common.testing import signed

from .conftest import make_doctor, make_session

U = signed("searcher")


def _all_pages(client, query: str) -> list[dict]:
    items, cursor, pages = [], None, 0
    while pages < 50:
        r = client.get(f"/v1/doctors?{query}&limit=7" + (f"&cursor={cursor}" if cursor else ""), auth=U)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        pages += 1
        if cursor is None:
            break
    return items


def test_department_from_triage_lands_on_its_doctors(client):
    items = _all_pages(client, "department=cardiology")
    assert len(items) >= 7  # the seed has about 150 doctors over 20 departments
    assert {d["department"]["id"] for d in items} == {"cardiology"}
    assert len({d["id"] for d in items}) == len(items)  # pagination neither repeats nor skips
    # with no text, availability orders the list
    avail = [d["available_slots"] for d in items]
    assert avail == sorted(avail, reverse=True)


def test_chinese_text_search_is_ranked(client):
    items = _all_pages(client, "q=糖尿病")
    assert items
    for d in items:
        assert "糖尿病" in "".join(d["specialties"]) + d["bio"]
    ranks = [d["relevance"] for d in items]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > 0
    # a phrase query works through jieba tokens too
    assert client.get("/v1/doctors?q=看高血压的医生", auth=U).json()["items"]


def test_filters_title_hospital_and_availability(client):
    doc = make_doctor(client, name="孤星测", bio="独特关键词鳞翅目研究", title="主任医师")
    found = client.get("/v1/doctors?q=鳞翅目", auth=U).json()["items"]
    assert [d["id"] for d in found] == [doc["id"]]
    assert client.get("/v1/doctors?q=鳞翅目&available=true", auth=U).json()["items"] == []
    make_session(client, doc["id"], capacity=2)
    found = client.get("/v1/doctors?q=鳞翅目&available=true", auth=U).json()["items"]
    assert [d["available_slots"] for d in found] == [2]
    hosp = doc["hospital"]["id"]
    assert client.get(f"/v1/doctors?hospital={hosp}&title=主治医师", auth=U).json()["items"] == []
    assert [d["id"] for d in client.get(f"/v1/doctors?hospital={hosp}&title=主任医师", auth=U).json()["items"]] \
        == [doc["id"]]
    sessions = client.get(f"/v1/doctors/{doc['id']}/sessions", auth=U).json()
    assert [s["remaining"] for s in sessions] == [2]


def test_bad_search_input(client):
    r = client.get("/v1/doctors?department=astrology", auth=U)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_department"
    assert r.json()["error"]["details"]["field"] == "department"
    r = client.get("/v1/doctors?cursor=not-a-cursor", auth=U)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"
    r = client.get("/v1/doctors?date_from=2026-12-10&date_to=2026-12-01", auth=U)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "date_to"
