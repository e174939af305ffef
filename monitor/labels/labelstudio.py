"""Label Studio files: the labeling config, the import tasks, and reading its JSON export.

One task per (sample, result): ``data`` holds the query, the result (title and text), and
the ids that link a grade back to the day and sample it came from. The config shows the
query and the result and asks for one grade, a ``Choices`` control whose choices read
"3 — perfectly relevant" and carry the bare grade as ``alias`` (Label Studio then stores
``"3"`` in ``annotations[].result[].value.choices``), with the judges' own grading scale
as the guideline. No judge grade is ever in a task: annotators must not anchor on it.

The export read is Label Studio's JSON export (a list of tasks, each with ``data`` and
``annotations[]``; an annotation's ``result[]`` holds ``{"from_name": "grade",
"type": "choices", "value": {"choices": ["2"]}}``) and its JSON-MIN export (one flat
object per annotation, the grade under the control's name).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from monitor.judges.prompts import load_template
from monitor.types import GRADE_LABELS, MAX_GRADE

__all__ = [
    "CONTROL",
    "annotation_records",
    "choice_text",
    "grade_scale",
    "labeling_config",
    "parse_choice",
    "task",
]

#: The name of the grade control in the config, and the key of a JSON-MIN grade.
CONTROL = "grade"
_SCALE_LINE = re.compile(r"^(\d) = ([^:]+): (.*)$")


def grade_scale() -> dict[int, str]:
    """Grade -> its definition, from the pointwise judge prompt (what the judges are told).

    The prompt's scale lines read ``3 = perfectly relevant: the result is …``; a line
    continued on the next one is joined. The names must be ``GRADE_LABELS``'.
    """
    text = load_template("pointwise").text
    scale: dict[int, str] = {}
    current: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        found = _SCALE_LINE.match(line)
        if found and int(found.group(1)) in GRADE_LABELS:
            current = int(found.group(1))
            if found.group(2).strip() != GRADE_LABELS[current]:
                raise ValueError(
                    f"pointwise prompt: grade {current} is not {GRADE_LABELS[current]}"
                )
            scale[current] = found.group(3).strip()
        elif current is not None and raw.startswith("    ") and line:
            scale[current] += " " + line
        else:
            current = None
    if sorted(scale) != sorted(GRADE_LABELS):
        raise ValueError("pointwise prompt: its grading scale lacks a grade")
    return scale


def choice_text(grade: int) -> str:
    """What a choice reads in the interface: ``3 — perfectly relevant``."""
    return f"{grade} — {GRADE_LABELS[grade]}"


def labeling_config() -> str:
    """The Label Studio labeling config (XML): query, result, a 0–3 choice, the guideline."""
    scale = grade_scale()
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="Query")
    ET.SubElement(view, "Text", name="query", value="$query")
    ET.SubElement(view, "Header", value="Search result")
    ET.SubElement(view, "Text", name="result", value="$result")
    ET.SubElement(view, "Header", value="How relevant is the result to the query?")
    choices = ET.SubElement(
        view,
        "Choices",
        name=CONTROL,
        toName="result",
        choice="single-radio",
        required="true",
        requiredMessage="Choose a grade from 0 to 3",
    )
    for grade in sorted(GRADE_LABELS, reverse=True):
        ET.SubElement(
            choices,
            "Choice",
            value=choice_text(grade),
            alias=str(grade),
            hint=scale[grade],
            hotkey=str(grade),
        )
    guide = ET.SubElement(view, "View", style="margin-top: 1em; color: #555")
    ET.SubElement(guide, "Header", value="Guideline", size="5")
    for grade in sorted(scale, reverse=True):
        line = f"{grade} = {GRADE_LABELS[grade]}: {scale[grade]}"
        ET.SubElement(guide, "Header", value=line, size="6")
    ET.SubElement(
        guide,
        "Header",
        size="6",
        value="Between two grades, choose the lower one. An unreadable or empty result is 0.",
    )
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def task(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Label Studio import task for one exported (sample, result) record."""
    title, body = record.get("title") or "", record.get("result_text") or ""
    shown = f"{title}\n\n{body}" if title and body else title or body
    return {
        "data": {
            "query": record["query"],
            "result": shown,
            "title": title,
            "text": body,
            "day": record["day"],
            "sample_id": record["sample_id"],
            "query_id": record["query_id"],
            "position": record["position"],
            "result_id": record["result_id"],
        }
    }


def _annotator(annotation: Mapping[str, Any]) -> str | None:
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        who = who.get("email") or who.get("username") or who.get("id")
    if who is None or who == "":
        return None
    return f"labelstudio:{who}"


def _choice(annotation: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The grade control's answer in one annotation, or (None, why not)."""
    results = annotation.get("result")
    if not isinstance(results, Sequence) or isinstance(results, str):
        return None, "annotation has no 'result' list"
    for region in results:
        if not isinstance(region, Mapping) or region.get("from_name") != CONTROL:
            continue
        value = region.get("value")
        picked = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(picked, Sequence) or isinstance(picked, str) or len(picked) != 1:
            return None, f"'{CONTROL}' answer is not one choice: {picked!r:.60}"
        return picked[0], None
    return None, f"annotation has no '{CONTROL}' choice"


def annotation_records(
    tasks: Sequence[Any],
) -> Iterator[tuple[int, dict[str, Any] | str | None]]:
    """(task number, record | reason it is bad | None for "not annotated") per annotation.

    A record is the task's ``data`` plus ``grade`` (the chosen choice, as Label Studio
    stored it) and ``annotator`` (``labelstudio:<user>``). Cancelled (skipped)
    annotations and tasks nobody annotated yield None. JSON-MIN items (flat, the grade
    under ``grade``) are records already.
    """
    for number, item in enumerate(tasks, start=1):
        if not isinstance(item, Mapping):
            yield number, "not a JSON object"
            continue
        if "annotations" not in item and "data" not in item:
            flat = dict(item)  # JSON-MIN: data fields and the control's answer, flat
            if flat.get("annotator") not in (None, ""):
                flat["annotator"] = f"labelstudio:{flat['annotator']}"
            yield number, flat
            continue
        data = item.get("data")
        if not isinstance(data, Mapping):
            yield number, "task has no 'data' object"
            continue
        annotations = item.get("annotations") or []
        if not isinstance(annotations, Sequence) or isinstance(annotations, str):
            yield number, "'annotations' is not a list"
            continue
        done = [a for a in annotations if not (isinstance(a, Mapping) and a.get("was_cancelled"))]
        if not done:
            yield number, None
            continue
        for annotation in done:
            if not isinstance(annotation, Mapping):
                yield number, "an annotation is not a JSON object"
                continue
            grade, why = _choice(annotation)
            if why is not None:
                yield number, why
                continue
            record = dict(data)
            record["grade"] = grade
            record["annotator"] = _annotator(annotation)
            yield number, record


def parse_choice(value: Any) -> int | str:
    """A grade from a choice (``"2"``, ``2``, ``"2 — highly relevant"`` or
    ``"highly relevant"``), or the reason it is not one."""
    if isinstance(value, bool):
        return f"unknown grade {value!r} (want an integer 0–{MAX_GRADE})"
    if isinstance(value, int):
        grade: int | None = value
    elif isinstance(value, str):
        text = value.strip()
        names = {name: g for g, name in GRADE_LABELS.items()}
        lead = re.match(r"^(-?\d+)(\s*(—|-|=|:)\s*(.*))?$", text)
        if text in names:
            grade = names[text]
        elif lead and (
            lead.group(4) is None or lead.group(4).strip() == GRADE_LABELS.get(int(lead.group(1)))
        ):
            grade = int(lead.group(1))
        else:
            grade = None
    else:
        grade = None
    if grade is None or not 0 <= grade <= MAX_GRADE:
        return f"unknown grade {value!r} (want an integer 0–{MAX_GRADE})"
    return grade
