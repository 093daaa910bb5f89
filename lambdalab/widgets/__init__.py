"""What the Lambda console would show, as notebook widgets (each with a plain-text form)."""

from .environments import EnvironmentsView
from .invoke_panel import InvokePanel
from .log_viewer import LogViewer

__all__ = ["InvokePanel", "LogViewer", "EnvironmentsView"]
