"""jieba keyword extraction against the knowledge lexicon, in Chinese and English."""
import pytest

from app.knowledge import load_vocabulary
from app.tagging import Tagger


@pytest.fixture(scope="module")
def tagger():
    return Tagger(load_vocabulary())


def test_chinese_text_yields_knowledge_tags_and_links(tagger):
    out = tagger.auto_tags("体检发现低密度脂蛋白胆固醇偏高、尿酸偏高，医生说要注意痛风；正在服用华法林。")
    assert {"低密度脂蛋白胆固醇", "高尿酸血症", "痛风"} <= set(out.tags)   # 尿酸偏高 is a name of 高尿酸血症
    assert out.links["indicator"] == ["LDL-C"]
    assert {"hyperuricemia", "gout"} <= set(out.links["condition"]) and out.links["drug_class"] == ["vka"]
    assert "UA" in tagger.auto_tags("复查尿酸和肌酐。").links["indicator"]


def test_english_names_of_several_words_are_found(tagger):
    out = tagger.auto_tags("High LDL cholesterol and uric acid; the X-ray showed a pleural effusion.", "en")
    assert {"LDL-C", "UA"} <= set(out.links["indicator"])
    assert "Effusion" in out.links["finding"] and "LDL cholesterol" in out.tags


def test_text_without_medical_words_gets_no_tags(tagger):
    assert tagger.auto_tags("今天天气很好，我们去公园散步。").tags == []


def test_query_words_drop_lone_characters(tagger):
    assert "高" not in tagger.query_words("尿酸高")
    assert tagger.query_words("高") == ["高"]
