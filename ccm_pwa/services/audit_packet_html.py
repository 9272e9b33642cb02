"""Render an audit packet as one self-contained, printable HTML page (no external assets)."""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:24px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
.no{color:#b00020}.yes{color:#0a7a3a}
"""


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _rows(pairs: list[tuple[str, object]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(_text(v))}</td></tr>" for k, v in pairs)


def render_packet_html(packet: dict) -> str:
    patient, result = packet["patient"], packet["result"]
    billable = result["billable"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Audit packet {escape(patient['mrn'])} {escape(packet['month'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>CCM audit packet — {escape(patient['name'])} (MRN {escape(patient['mrn'])}), "
        f"{escape(packet['month'])}</h1>",
        f"<p>{escape(packet['practice'])} · times in {escape(packet['time_zone'])}</p>",
        "<h2>Result</h2><table>",
        _rows([("Billable", billable), ("Lane", result["lane"]),
               ("Countable minutes", result["countable_minutes"]),
               ("Billing practitioner", packet["billing_practitioner"]),
               ("Reasons", result["reasons"]), ("Notes", result["notes"])]),
        "</table><table><tr><th>Code</th><th>Units</th><th>Date of service</th>"
        "<th>Amount</th></tr>",
        *(f"<tr><td>{escape(line['code'])}</td><td>{line['units']}</td>"
          f"<td>{escape(line['date_of_service'])}</td>"
          f"<td>{'$' + escape(line['amount']) if line['amount'] else 'fee not in table'}</td></tr>"
          for line in result["claim_lines"]),
        "</table><h2>Chronic conditions</h2><table>",
        _rows([(c["code"], f"{c['description']} (onset {c['onset'] or 'unknown'})")
               for c in packet["chronic_conditions"]]) or "<tr><td>None on record</td></tr>",
        "</table><h2>Consent</h2><table>",
        _rows(list(packet["consent"].items())) if packet["consent"]
        else "<tr><td class='no'>No consent on record for this billing practitioner</td></tr>",
        "</table><h2>Care plan in force at month end</h2><table>",
    ]
    plan = packet["care_plan"]
    if plan:
        parts.append(_rows([(k, v) for k, v in plan.items() if k != "elements"]))
        parts.append(_rows([(f"{name} (v{e['version']})", f"{_text(e['value'])} — {e['author']}")
                            for name, e in plan["elements"].items()]))
    else:
        parts.append("<tr><td class='no'>No care plan in force</td></tr>")
    parts.append("</table><h2>Time log</h2><table><tr><th>Started</th><th>Minutes</th>"
                 "<th>Who</th><th>Activity</th><th>Note</th><th>Counted</th><th>Excluded</th></tr>")
    for entry in packet["time_log"]:
        excluded = "; ".join(f"{x['seconds']} s: {x['reason']}" for x in entry["excluded"])
        parts.append(
            f"<tr><td>{escape(entry['started'])}</td><td>{entry['minutes']}</td>"
            f"<td>{escape(_text(entry['performer']))} ({escape(entry['performer_kind'])})</td>"
            f"<td>{escape(entry['activity'])} [{escape(entry['source'])}]</td>"
            f"<td>{escape(entry['note'])}</td><td>{entry['counted_seconds']} s</td>"
            f"<td>{escape(excluded) or '—'}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
