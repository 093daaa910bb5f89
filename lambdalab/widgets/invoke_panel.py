"""The invoke panel: what the Lambda console's Test tab does, in a notebook.

Pick a function, edit a test event, invoke, and see the result, the REPORT line and the log.
``panel.invoke()`` presses the button from code, so a headless run shows the same result.
"""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets

from ..client.connection import InvokeResult, aws_client, invoke
from ..records.logs import parse_report
from .base import COLOURS, Viewable, card, escape

SAMPLE_EVENTS = {
    "hello": {"key1": "value1", "key2": "value2", "key3": "value3"},
    "empty": {},
}


class InvokePanel(Viewable):
    def __init__(self, function_name: str | None = None, event: Any = None) -> None:
        self.function_name = function_name
        self.event = SAMPLE_EVENTS["hello"] if event is None else event
        self.last: InvokeResult | None = None
        self.error: str | None = None
        self._view: widgets.Widget | None = None
        self._output = widgets.HTML("")

    def invoke(self, event: Any = None) -> InvokeResult | None:
        """Invoke the chosen function with the event (or the panel's), as the button does."""
        if event is not None:
            self.event = event
        self.error = None
        if not self.function_name:
            self.error = "Choose a function first."
        else:
            try:
                self.last = invoke(self.function_name, self.event)
            except Exception as exc:  # an API error is shown, as the console shows it
                self.last, self.error = None, _api_error_text(exc)
        self._output.value = self._result_html()
        return self.last

    def text(self) -> str:
        lines = [f"Invoke panel: function {self.function_name or '(none chosen)'}",
                 f"Event: {json.dumps(self.event)}"]
        if self.error:
            lines.append(f"Error: {self.error}")
        elif self.last is not None:
            result = self.last
            lines.append(f"Status: {result.status}" + (f", FunctionError: {result.function_error}"
                                                        if result.function_error else ""))
            lines.append(f"Response: {result.raw.decode('utf-8', 'replace')}")
            lines.append("Log:")
            lines.extend("  " + line for line in result.log.rstrip("\n").splitlines())
        else:
            lines.append("(not invoked yet: press Invoke, or call .invoke())")
        return "\n".join(lines)

    def widget(self) -> widgets.Widget:
        if self._view is not None:
            return self._view
        names = _function_names()
        if self.function_name and self.function_name not in names:
            names.insert(0, self.function_name)
        chooser = widgets.Dropdown(options=names, value=self.function_name if self.function_name in names else None,
                                   description="Function")
        editor = widgets.Textarea(value=json.dumps(self.event, indent=2), description="Event",
                                  layout=widgets.Layout(width="95%", height="140px"))
        button = widgets.Button(description="Invoke", button_style="warning", icon="play")

        def on_click(_: widgets.Button) -> None:
            self.function_name = chooser.value
            try:
                event = json.loads(editor.value or "{}")
            except ValueError as exc:
                self.error = f"The event is not valid JSON: {exc}"
                self._output.value = self._result_html()
                return
            button.disabled = True
            self._output.value = card("Invoking…", "", COLOURS["muted"])
            try:
                self.invoke(event)
            finally:
                button.disabled = False

        button.on_click(on_click)
        self._output.value = self._result_html()
        self._view = widgets.VBox([chooser, editor, button, self._output])
        return self._view

    def _result_html(self) -> str:
        if self.error:
            return card("Error", f"<pre>{escape(self.error)}</pre>", COLOURS["fail"])
        result = self.last
        if result is None:
            return ""
        failed = bool(result.function_error)
        report = next((line for line in result.log.splitlines() if line.startswith("REPORT")), "")
        figures = parse_report(report)
        chips = " · ".join(f"{key}: <b>{escape(value)}</b>" for key, value in figures.items() if key != "RequestId")
        body = (f"<div>{chips}</div><pre style='white-space:pre-wrap'>{escape(result.raw.decode('utf-8', 'replace'))}</pre>"
                f"<details><summary>Log output</summary><pre style='white-space:pre-wrap'>{escape(result.log)}</pre></details>")
        title = f"{'Failed' if failed else 'Succeeded'} (status {result.status}" + \
                (f", {result.function_error})" if failed else ")")
        return card(title, body, COLOURS["fail" if failed else "pass"])


def _function_names() -> list[str]:
    try:
        pages = aws_client("lambda").get_paginator("list_functions").paginate()
        return sorted(fn["FunctionName"] for page in pages for fn in page["Functions"])
    except Exception:
        return []


def _api_error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(exc)
