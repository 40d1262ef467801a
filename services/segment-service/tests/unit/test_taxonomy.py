from pathlib import Path

import pytest
import yaml
from segment_service.domain.taxonomy import InvalidTaxonomy, parse_taxonomy

DEMO = Path(__file__).resolve().parents[4] / "deploy" / "demo" / "itami-taxonomy.yaml"


def test_the_demo_city_taxonomy_is_valid():
    taxonomy = parse_taxonomy(yaml.safe_load(DEMO.read_text(encoding="utf-8")))
    assert taxonomy.municipality_name == "伊丹市"
    assert len(taxonomy.dimensions["districts"]) == 17
    bousai = next(c for c in taxonomy.dimensions["categories"] if c.key == "bousai")
    assert bousai.always_delivered


def test_hash_ignores_formatting_but_not_content():
    base = {"municipality": {"code": "282073", "name": "伊丹市"}, "categories": [{"key": "a", "label": "A"}]}
    same = {"categories": [{"label": "A", "key": "a"}], "municipality": {"name": "伊丹市", "code": "282073"}}
    other = {"municipality": {"code": "282073", "name": "伊丹市"}, "categories": [{"key": "a", "label": "B"}]}
    assert parse_taxonomy(base).content_hash() == parse_taxonomy(same).content_hash()
    assert parse_taxonomy(base).content_hash() != parse_taxonomy(other).content_hash()


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidTaxonomy) as error:
        parse_taxonomy({
            "municipality": {"code": "28", "name": ""},
            "categories": [{"key": "Bad Key", "label": "x"}, {"key": "a", "label": ""}, {"key": "a", "label": "y"}],
            "districts": [{"key": "d", "label": "d", "always_delivered": True}],
            "extra": 1,
        })
    message = str(error.value)
    for expected in ("municipality.code", "municipality.name", "categories[0].key", "categories[1].label",
                     "categories[2].key: 'a' is used twice", "only categories can be always delivered",
                     "unknown sections: extra"):
        assert expected in message


@pytest.mark.parametrize("raw", [None, [], "text", {"municipality": {"code": "282073", "name": "x"}}])
def test_shapeless_documents_are_refused(raw):
    with pytest.raises(InvalidTaxonomy):
        parse_taxonomy(raw)


def test_a_v1_document_with_child_stages_still_parses_and_publishing_drops_the_buckets():
    v1 = {"municipality": {"code": "282073", "name": "伊丹市"},
          "categories": [{"key": "kosodate", "label": "子育て"}],
          "child_stages": [{"key": "age3_5", "label": "3〜5歳"}]}
    taxonomy = parse_taxonomy(v1)
    assert "child_stages" not in taxonomy.document() and taxonomy.max_children == 6
    assert taxonomy.document()["languages"] == []


def test_the_demo_city_offers_languages_and_children_by_birth_month():
    taxonomy = parse_taxonomy(yaml.safe_load(DEMO.read_text(encoding="utf-8")))
    assert taxonomy.keys("languages")[:2] == ("ja", "en") and taxonomy.max_children == 6
    with pytest.raises(InvalidTaxonomy, match=r"children\.max"):
        parse_taxonomy({**yaml.safe_load(DEMO.read_text(encoding="utf-8")), "children": {"max": 99}})
