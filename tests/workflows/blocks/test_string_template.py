"""``string_template``: placeholders filled from ``data`` (literals, inputs, step outputs) after
``data_operations``; templates that do not fit their data are 400s naming the template."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.blocks.formatters import TemplateError, render_template
from visionflow.workflows.errors import InvalidInputTypeError


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        pytest.param("", {}, "", id="empty"),
        pytest.param("no placeholders", {"x": 1}, "no placeholders", id="literal"),
        pytest.param("{a} and {b}", {"a": "x", "b": 2}, "x and 2", id="names"),
        pytest.param("{p:.2f}|{n:>4}", {"p": 0.12345, "n": 7}, "0.12|   7", id="format-spec"),
        pytest.param("{p:.{digits}f}", {"p": 1.0, "digits": 3}, "1.000", id="nested-spec"),
        pytest.param("{{literal}} {x}", {"x": True}, "{literal} True", id="braces"),
        pytest.param("{xs}", {"xs": ["a", "b"]}, "['a', 'b']", id="list"),
    ],
)
def test_render_template(template: str, variables: dict[str, Any], expected: str) -> None:
    assert render_template(template, variables) == expected


@pytest.mark.parametrize(
    ("template", "variables", "message"),
    [
        pytest.param("{missing}", {"x": 1}, r"\{missing\} is not in data", id="missing"),
        pytest.param("{}", {"x": 1}, "positional", id="positional-empty"),
        pytest.param("{0}", {"x": 1}, "positional", id="positional-index"),
        pytest.param("{x.real}", {"x": 1}, "attribute and index", id="attribute"),
        pytest.param("{x[0]}", {"x": [1]}, "attribute and index", id="index"),
        pytest.param("{x", {"x": 1}, "literal braces", id="unbalanced"),
        pytest.param("{x:d}", {"x": "text"}, "format spec", id="spec-type"),
        pytest.param("{x:>99999999}", {"x": 1}, "stop at 10000", id="huge-width"),
        pytest.param("{x:>{w}}", {"x": 1, "w": 10**8}, "stop at 10000", id="huge-nested"),
        pytest.param("{x:{y.imag}}", {"x": 1, "y": 2}, "attribute", id="nested-attribute"),
    ],
)
def test_templates_that_do_not_fit(template: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_template(template, variables)


def _render(template: Any, data: dict[str, Any], **fields: Any) -> Any:
    [result] = run(
        [
            model_step("det", "m/1"),
            step("string_template@v1", "text", template=template, data=data, **fields),
        ],
        {"text": "$steps.text.output"},
        {"image": canvas()},
        {"image": "image", "who": "visionflow", "template": "{n} for {who}"},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "who"},
            {"type": "WorkflowParameter", "name": "template"},
        ],
        models=ScriptedModels({"m/1": lambda image: boxes([[0, 0, 5, 5], [5, 5, 9, 9]])}),
    )
    return result["text"]


def test_data_from_literals_inputs_and_steps_through_operations() -> None:
    text = _render(
        "Found {n} ({names}) for {who}; threshold {t:.1f}, strict={strict}",
        {
            "n": "$steps.det.predictions",
            "names": "$steps.det.predictions",
            "who": "$inputs.who",
            "t": 0.25,
            "strict": False,
        },
        data_operations={
            "n": [{"type": "SequenceLength"}],
            "names": [
                {"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                {"type": "SequenceJoin", "separator": ", "},
            ],
        },
    )
    assert text == "Found 2 (a, a) for visionflow; threshold 0.2, strict=False"


def test_template_from_an_input() -> None:
    assert _render("$inputs.template", {"n": 3, "who": "$inputs.who"}) == "3 for visionflow"


def test_no_data_gives_the_template() -> None:
    assert _render("plain text", {}) == "plain text"


@pytest.mark.parametrize(
    ("template", "data", "fields", "message"),
    [
        pytest.param("{n}", {}, {}, "field 'template'.*not in data", id="missing"),
        pytest.param(
            "{n}",
            {"n": 1},
            {"data_operations": {"m": [{"type": "SequenceLength"}]}},
            "field 'data_operations'.*'m'",
            id="operations-for-unknown",
        ),
    ],
)
def test_bad_templates_are_400s(
    template: str, data: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _render(template, data, **fields)
