"""Every view is an ipywidget with a plain-text twin.

JupyterLab shows the widget; a notebook run headless (tests, grading) or read without a live
kernel still says what happened, because the text form is what ``text/plain`` carries.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets


class Viewable:
    def widget(self) -> widgets.Widget:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        view = self.widget()
        bundle = view._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        bundle = dict(bundle)
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self) -> str:
        return self.text()


class ModelView(Viewable):
    """A view of one model (a bill, a tuning result, a check result) that reads as its model: an
    attribute the view does not have is the model's, so code that reads figures off what a
    function returned (`bill.total_usd`, `result.passed`) needs no forwarding property per field."""

    _model_attribute = "model"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # private names and IPython's display probes are the view's own
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, self._model_attribute), name)


COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "cold": "#0969da", "warm": "#bf8700", "busy": "#8250df",
           "muted": "#57606a"}


def card(title: str, body_html: str, colour: str) -> str:
    return (f'<div style="border-left:6px solid {colour};padding:8px 12px;margin:4px 0;'
            f'background:rgba(0,0,0,0.03);border-radius:4px">'
            f'<div style="font-weight:600;color:{colour}">{html.escape(title)}</div>{body_html}</div>')


def escape(text: str) -> str:
    return html.escape(text)


class RefreshableView(Viewable):
    """A view drawn as HTML by _html(), with a Refresh button that redraws it from the kernel."""

    _view: widgets.Widget | None = None

    def _html(self) -> str:
        raise NotImplementedError

    def widget(self) -> widgets.Widget:
        if self._view is None:
            body = widgets.HTML(self._html())
            refresh = widgets.Button(description="Refresh", icon="refresh")
            refresh.on_click(lambda _: setattr(body, "value", self._html()))
            self._view = widgets.VBox([refresh, body])
        return self._view
