"""Statistics (counts only, never texts) and the audit log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from server.storage import Storage

FEEDBACK_KINDS = ("dismissed", "false_positive", "missed")


class StatisticsActions:
    storage: Storage

    def statistics(self, days: int) -> dict:
        """Per day: checks, flagged checks (overall and per category) and feedback reports, with
        dismiss and false-alarm rates per flagged check, and the composers the extension recognised
        per platform, surface and rule. Numbers only, never texts."""
        first = datetime.now(timezone.utc).date() - timedelta(days=days - 1)  # counts are kept per UTC day
        storage = self.storage
        rows = {(first + timedelta(days=i)).isoformat(): _empty_day() for i in range(days)}
        for row in storage.counts.since(first.isoformat()):
            day = rows.setdefault(row["day"], _empty_day())
            metric = row["metric"]
            if metric.startswith("flagged:"):
                day["by_category"][metric.split(":", 1)[1]] = row["count"]
            elif metric.startswith("composers:") and metric.count(":") == 3:
                _, platform, surface, rule = metric.split(":")
                day["composers"].setdefault(platform, {}).setdefault(surface, {"specific": 0, "fallback": 0})[rule] = row["count"]
            elif metric in day:
                day[metric] = row["count"]
        for row in storage.feedback.daily(first.isoformat()):
            rows.setdefault(row["day"], _empty_day())[row["kind"]] = row["count"]
        totals = _empty_day()
        for day in rows.values():
            for key in ("checks", "flagged", *FEEDBACK_KINDS):
                totals[key] += day[key]
            for category, count in day["by_category"].items():
                totals["by_category"][category] = totals["by_category"].get(category, 0) + count
            for platform, surfaces in day["composers"].items():
                for surface, rules in surfaces.items():
                    total = totals["composers"].setdefault(platform, {}).setdefault(surface, {"specific": 0, "fallback": 0})
                    for rule, count in rules.items():
                        total[rule] = total.get(rule, 0) + count
        return {"since": first.isoformat(),
                "days": [{"day": d, **_with_rates(v)} for d, v in sorted(rows.items())],
                "totals": _with_rates(totals)}

    def audit_page(self, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        """The newest audit entries first, and how many there are in all."""
        return self.storage.audit.page(limit, offset)

    def record_audit(self, actor: str, action: str, detail: dict) -> None:
        """Audit something done outside the service (e.g. a refused admin token)."""
        self.storage.audit.record(actor, action, detail)


def _empty_day() -> dict:
    return {"checks": 0, "flagged": 0, "by_category": {}, **{kind: 0 for kind in FEEDBACK_KINDS},
            # composers the extension recognised: {platform: {surface: {"specific": n, "fallback": n}}}
            "composers": {}}


def _with_rates(day: dict) -> dict:
    flagged = day["flagged"]
    return {**day,
            "dismiss_rate": round(day["dismissed"] / flagged, 4) if flagged else None,
            "false_alarm_rate": round(day["false_positive"] / flagged, 4) if flagged else None}
