"""The shared file-format loader: YAML/JSON into pydantic models, each mistake where it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ocpp_chaos.fileformat import (
    KEY,
    FileFormat,
    FileFormatError,
    LocatedError,
    OneOrMany,
    Problem,
    json_schema,
    load_model_file,
    load_model_text,
    parse_text,
    validate_document,
)
from ocpp_chaos.rules import RuleFileError
from ocpp_chaos.rules.loader import RULE_FILE_FORMAT
from ocpp_chaos.simulator.template import TemplateFileError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Circle(_Model):
    shape: Literal["circle"]
    radius: float = Field(gt=0)


class Square(_Model):
    shape: Literal["square"]
    side: float = Field(gt=0)


class Item(_Model):
    """One thing."""

    name: str
    size: int = Field(1, ge=1, le=10)
    tags: Annotated[list[str], OneOrMany] = Field(default_factory=list)
    form: Annotated[Circle | Square, Field(discriminator="shape")] | None = None
    limits: dict[str, int] = Field(default_factory=dict)

    @field_validator("limits")
    @classmethod
    def _known(cls, value: dict[str, int]) -> dict[str, int]:
        errors: list[tuple[tuple[Any, ...], str]] = []
        for key, number in value.items():
            if not key.islower():
                errors.append(((key, KEY), f"{key!r} is not lower case"))
            elif number < 0:
                errors.append(((key,), f"{number} is negative"))
        if errors:
            raise LocatedError(errors)
        return value


class Inventory(_Model):
    """A list of things."""

    items: list[Item]
    owner: str = "nobody"


INVENTORY = FileFormat(
    Inventory,
    empty="the file is empty: expected items",
    root="an inventory is a mapping with items, or a list of them",
    root_list="items",
    labelled=(("items",),),
)


def _problems(text: str, filename: str = "f.yaml", spec: Any = Inventory) -> list[str]:
    with pytest.raises(FileFormatError) as info:
        load_model_text(text, filename, spec)
    return [str(p) for p in info.value.problems]


def test_a_good_file_loads_from_yaml_and_json(tmp_path: Path) -> None:
    text = "items:\n  - {name: a, tags: x}\n  - name: b\n    form: {shape: circle, radius: 2}\n"
    inventory = load_model_text(text, "f.yaml", Inventory)
    assert [i.name for i in inventory.items] == ["a", "b"]
    assert inventory.items[0].tags == ["x"]  # one string where a list is allowed
    assert isinstance(inventory.items[1].form, Circle)
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"items": [{"name": "c"}]}), encoding="utf-8")
    assert load_model_file(path, Inventory).items[0].name == "c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "items:\n  - {name: a, sise: 3}\n",
            ["f.yaml:2:15: items[0] (a).sise: unknown key 'sise' (did you mean 'size'?)"],
        ),
        (
            "items:\n  - name: a\n    size: 11\n",
            ["f.yaml:3:11: items[0] (a).size: must be less than or equal to 10, not 11"],
        ),
        ("items:\n  - size: 2\n", ["f.yaml:2:5: items[0].name: missing required field 'name'"]),
        (
            "items:\n  - name: a\n    form: {shape: circel, radius: 1}\n",
            [
                "f.yaml:3:19: items[0] (a).form.shape: form shape 'circel' is unknown "
                "(did you mean 'circle'?); one of: circle, square"
            ],
        ),
        (
            "items:\n  - name: a\n    form: {shape: square, radius: 1}\n",
            [
                "f.yaml:3:11: items[0] (a).form.side: missing required field 'side'",
                "f.yaml:3:27: items[0] (a).form.radius: unknown key 'radius'; expected one of: "
                "shape, side",
            ],
        ),
        (
            "items:\n  - name: a\n    limits:\n      ok: 1\n      Bad: 2\n      neg: -3\n",
            [
                "f.yaml:5:7: items[0] (a).limits.Bad: 'Bad' is not lower case",
                "f.yaml:6:12: items[0] (a).limits.neg: -3 is negative",
            ],
        ),
        (
            "items:\n  - {name: a}\n  - {name: b, name: c}\n",
            ["f.yaml:3:15: items[1] (c).name: key 'name' is given twice in this mapping"],
        ),
        ("", ["f.yaml:1:1: the file is empty: expected items"]),
        (
            "just text\n",
            ["f.yaml:1:1: an inventory is a mapping with items, or a list of them, not 'just"],
        ),
        ("items: [\n", ["f.yaml:2:1: invalid YAML"]),
    ],
)
def test_problems_are_placed_and_explained(text: str, expected: list[str]) -> None:
    problems = _problems(text, spec=INVENTORY)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


def test_json_positions_are_those_of_the_json_text() -> None:
    text = '{"items": [\n  {"name": "a",\n   "size": 0, "limits": {"X": 1}}\n]}\n'
    assert _problems(text, "f.json") == [
        "f.json:3:12: items[0].size: must be greater than or equal to 1, not 0",
        "f.json:3:26: items[0].limits.X: 'X' is not lower case",
    ]
    assert _problems('{"items": [}', "f.json") == ["f.json:1:12: invalid JSON: Expecting value"]


def test_a_bare_list_is_the_root_list_field() -> None:
    inventory = load_model_text("- name: a\n- name: b\n", "f.yaml", INVENTORY)
    assert [i.name for i in inventory.items] == ["a", "b"]
    assert _problems("- name: a\n- {name: b, size: 0}\n", spec=INVENTORY) == [
        "f.yaml:2:19: items[1] (b).size: must be greater than or equal to 1, not 0"
    ]


def test_without_a_format_a_model_is_enough() -> None:
    assert _problems("") == ["f.yaml:1:1: the file is empty"]
    assert _problems("[1]\n") == ["f.yaml:1:1: must be a mapping, not a list"]
    assert _problems("items:\n  - {name: a}\nownr: me\n") == [
        "f.yaml:3:1: ownr: unknown key 'ownr' (did you mean 'owner'?)"
    ]


def test_every_problem_of_a_file_is_reported_in_order() -> None:
    text = "owner: 3\nitems:\n  - {name: a, size: 0}\n  - {nme: b}\n"
    problems = _problems(text)
    assert [p.split(": ")[0] for p in problems] == [
        "f.yaml:1:8",
        "f.yaml:3:21",
        "f.yaml:4:5",
        "f.yaml:4:6",
    ]


def test_unreadable_files_are_problems_on_line_0(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError) as info:
        load_model_file(tmp_path / "nope.yaml", Inventory)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'nope.yaml'}:0:0: cannot read: No such file or directory"
    ]


def test_the_format_chooses_the_error_type() -> None:
    assert issubclass(RuleFileError, FileFormatError)
    assert issubclass(TemplateFileError, FileFormatError)
    custom = FileFormat(Inventory, error=RuleFileError)
    with pytest.raises(RuleFileError):
        load_model_text("items: [", "f.yaml", custom)
    with pytest.raises(RuleFileError):
        load_model_text("", "f.yaml", RULE_FILE_FORMAT)


def test_parse_and_validate_separately() -> None:
    doc = parse_text("items:\n  - name: a\n", "f.yaml", INVENTORY)
    assert doc.value_mark(("items", 0, "name")) == (2, 11)
    assert doc.key_mark(("items", 0, "name")) == (2, 5)
    assert doc.value_mark(("items", 5, "x")) == (2, 3)  # the nearest enclosing value
    instance, problems = validate_document(doc)
    assert problems == [] and instance is not None and instance.items[0].name == "a"


def test_problem_text() -> None:
    assert str(Problem("f", 1, 2, "a.b", "bad")) == "f:1:2: a.b: bad"
    assert str(Problem("f", 1, 2, "", "bad")) == "f:1:2: bad"
    assert str(FileFormatError([Problem("f", 1, 2, "", "x")] * 2)) == "f:1:2: x\nf:1:2: x"


def test_located_error_reads_well_outside_the_loader() -> None:
    error = LocatedError([(("a", KEY), "bad key"), ((2, 0), "bad number"), ((), "bad")])
    assert str(error) == "a: bad key; 2.0: bad number; bad"
    with pytest.raises(ValueError):
        LocatedError([])


def test_json_schema() -> None:
    schema = json_schema(Inventory, title="inventory")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "inventory"
    assert schema["description"] == "A list of things."
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"items": [{"name": "a", "tags": "one"}]})  # one or many
    assert validator.is_valid({"items": [{"name": "a", "tags": ["one", "two"]}]})
    assert not validator.is_valid({"items": [{"name": "a", "sise": 1}]})
    assert not validator.is_valid({"items": [{"name": "a", "form": {"shape": "oval"}}]})
    assert json_schema(Item, title="t", description="d")["description"] == "d"
