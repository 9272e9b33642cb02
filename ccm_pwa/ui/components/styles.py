"""Shared sizes for field controls: legible at arm's length, ≥ 44 px to hit with a thumb."""

BIG = {"minHeight": "44px"}
INPUT = {"minHeight": "44px", "fontSize": "16px", "padding": "8px", "width": "100%",
         "borderRadius": "8px", "border": "1px solid var(--gray-7)"}
