"""The lexicon: built-in file, brand extension, and clear errors for a bad brand file."""

from __future__ import annotations

import pytest

from siyu.tags.text import LexiconError, detect, load_lexicon


def write(tmp_path, text: str):
    p = tmp_path / "brand.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_builtin_lexicon_has_every_scenario():
    lex = load_lexicon()
    assert set(lex.scenarios) == {
        "cycle_due",
        "buying_for_others",
        "complaint",
        "price_sensitive",
        "ingredient_interest",
        "anger",
        "disappointment",
    }
    assert lex.scenarios["anger"].kind == "emotion"
    assert "没" in lex.words["negators"]


def test_brand_file_adds_cues_negators_and_a_scenario(tmp_path):
    path = write(
        tmp_path,
        """
[words]
negators = ["木有"]

[classes]
pet = ["主子", "猫主子"]

[scenarios.cycle_due]
cues = ["囤的粮吃完了"]

[scenarios.pet_owner]
kind = "scenario"
label = "养宠人群"
cues = ["铲屎官"]
patterns = ["给 {pet} 买"]
""",
    )
    lex = load_lexicon(path)
    assert "囤的粮吃完了" in lex.scenarios["cycle_due"].cues
    assert "快用完了" in lex.scenarios["cycle_due"].cues  # built-in cues kept
    assert {h.scenario for h in detect("作为铲屎官表示很满意", lex)} == {"pet_owner"}
    assert {h.scenario for h in detect("给主子买的罐头", lex)} == {"pet_owner"}
    assert {h.scenario for h in detect("木有吃完了", lex)} == set()  # brand negator
    assert load_lexicon().scenarios.keys() == load_lexicon().scenarios.keys()
    assert "pet_owner" not in load_lexicon().scenarios  # the built-in one is untouched


def test_brand_file_replaces_scalars(tmp_path):
    lex = load_lexicon(write(tmp_path, '[scenarios.cycle_due]\non_question = "keep"\n'))
    assert lex.scenarios["cycle_due"].on_question == "keep"
    assert {h.scenario for h in detect("用完了吗？", lex)} == {"cycle_due"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scenarios.x\ncues = 1", "not valid TOML"),
        ('[scenarios.cycle_due]\ncues = "用完了"', "[scenarios.cycle_due.cues] must be a list"),
        (
            "[scenarios.cycle_due]\ncues = [1]",
            "[scenarios.cycle_due.cues] item 1 must be a non-empty string",
        ),
        (
            '[scenarios.new_one]\nlabel = "x"',
            "[scenarios.new_one] a new scenario needs at least one cue",
        ),
        ('[scenarios.Bad-Name]\ncues = ["x"]', "lower-case ASCII"),
        ('[scenarios.cycle_due]\nkind = "mood"', "[scenarios.cycle_due.kind] must be one of"),
        (
            '[scenarios.cycle_due]\non_question = "nowhere"',
            "on_question] must be keep, drop or a scenario",
        ),
        ('[scenarios.cycle_due]\npatterns = ["给 {nobody} 买"]', "unknown class {nobody}"),
        ('[scenarios.cycle_due]\npatterns = ["* 买"]', "cannot start or end with *"),
        ('[scenarios.cycle_due]\npatterns = ["买 /[/"]', "bad regex"),
        ('[scenarios.cycle_due]\ncue = ["x"]', "[scenarios.cycle_due.cue] unknown key"),
        ('[words]\nnegator = ["x"]', "[words.negator] unknown word list"),
        ("[rules]\nnegation_window = 99", "[rules.negation_window] must be an integer 0..20"),
        ("version = 2", "[version] unsupported version"),
        ("colour = 1", "[colour] unknown top-level key"),
    ],
)
def test_bad_brand_file_gives_a_clear_error(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(LexiconError) as e:
        load_lexicon(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '[scenarios.cycle_due]\ncues = ["a"]\nbroken = \n')
    with pytest.raises(LexiconError, match="line 3"):
        load_lexicon(path)


def test_missing_brand_file(tmp_path):
    with pytest.raises(LexiconError, match="not found"):
        load_lexicon(tmp_path / "nope.toml")
