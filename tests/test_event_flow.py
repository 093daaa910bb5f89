"""The event-flow view: hops become routes, columns and a diagram; the text form says the same."""

from __future__ import annotations

from lambdalab.widgets import event_flow as flow_view


def _step(sequence: int, source: str, target: str, kind: str, ok: bool | None = None, detail: str = "") -> dict:
    return {"sequence": sequence, "at": 1_700_000_000 + sequence, "source": source, "target": target, "kind": kind,
            "detail": detail, "request_id": None, "ok": ok}


STEPS = [
    _step(1, "s3:photos", "lambda:thumbnail", "event"),
    _step(2, "lambda:thumbnail", "lambda:thumbnail", "invoke", ok=False),
    _step(3, "lambda:thumbnail", "lambda:thumbnail", "retry", ok=False),
    _step(4, "lambda:thumbnail", "sqs:failed-photos", "dead-letter", ok=False, detail="RetriesExhausted"),
    _step(5, "s3:photos", "lambda:thumbnail", "event"),
    _step(6, "lambda:thumbnail", "sqs:done", "success", ok=True),
]


def test_routes_count_hops_by_kind_and_failures() -> None:
    routes = {(r.source, r.target): r for r in flow_view.routes_of(STEPS)}
    assert routes[("s3:photos", "lambda:thumbnail")].kinds["event"] == 2
    assert routes[("lambda:thumbnail", "sqs:failed-photos")].failed == 1
    assert routes[("s3:photos", "lambda:thumbnail")].label() == "2 events"


def test_columns_go_source_function_destination() -> None:
    columns = flow_view.columns_of(flow_view.routes_of(STEPS))
    assert columns == [["s3:photos"], ["lambda:thumbnail"], ["sqs:failed-photos", "sqs:done"]]


def test_diagram_names_every_node() -> None:
    svg = flow_view.diagram_svg(flow_view.routes_of(STEPS))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for name in ("photos", "thumbnail", "failed-photos", "done"):
        assert name in svg


def test_view_text_lists_routes_and_latest_hops(monkeypatch) -> None:
    monkeypatch.setattr(flow_view, "admin", lambda method, path: STEPS if "after=0" in path else [])
    view = flow_view.EventFlowView(everything=True)
    text = view.text()
    assert "s3:photos -> lambda:thumbnail: 2 events" in text
    assert "dead-letter  RetriesExhausted" in text
    assert "<svg" in view._html()


def test_view_of_one_function_and_an_empty_flow(monkeypatch) -> None:
    monkeypatch.setattr(flow_view, "admin", lambda method, path: [])
    assert flow_view.EventFlowView(everything=True, function_name="nobody").text() == "No events have moved yet."
