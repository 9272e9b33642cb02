"""Charts as plain boxes: a row of labelled bars, sized in CSS.

Supervisor charts are small (six months, five funnel steps), so a chart library's tens of
kilobytes of JavaScript buy nothing here; these render on the server's data with no extra
bundle at all (bench/route_weight.py shows the routes' bytes).
"""

from __future__ import annotations

import reflex as rx


def bar_rows(rows: rx.Var[list[dict[str, str]]], label: str) -> rx.Component:
    """`rows`: [{label, value, percent}] — percent of the widest bar, as a string."""
    return rx.vstack(
        rx.foreach(rows, lambda row: rx.hstack(
            rx.text(row["label"], size="2", width="7.5rem", flex_shrink="0"),
            rx.box(rx.box(height="100%", width=row["percent"] + "%",
                          background="var(--accent-9)", border_radius="4px"),
                   height="14px", flex="1", background="var(--gray-4)", border_radius="4px"),
            rx.text(row["value"], size="2", width="6rem", text_align="right",
                    flex_shrink="0"),
            width="100%", align="center", role="listitem")),
        width="100%", spacing="1", role="list", aria_label=label)


def scaled(pairs: list[tuple[str, float, str]]) -> list[dict[str, str]]:
    """(label, number, text) → bar rows, the largest number at 100 %."""
    top = max((number for _, number, _ in pairs), default=0) or 1
    return [{"label": label, "value": text, "percent": f"{100 * number / top:.0f}"}
            for label, number, text in pairs]
