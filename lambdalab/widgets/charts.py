"""Charts for the views: matplotlib figures that show themselves in a notebook and become PNG for widgets.

Figures are made without pyplot, so no global figure list grows in the kernel and no
backend has to be chosen; each figure knows how to show itself (``_repr_png_``).
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


class ChartFigure(Figure):
    """A matplotlib Figure that Jupyter shows as a PNG even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        return png_of(self)


def new_chart(width_in: float = 7.0, height_in: float = 3.6) -> ChartFigure:
    return ChartFigure(figsize=(width_in, height_in), layout="constrained")


def png_of(figure: Figure, dpi: int = 96) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
