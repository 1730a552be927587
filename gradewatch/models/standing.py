"""How far to trust the model in use: the champion, its verdict against the naive baselines,
and the shadow model beside it. One function, read by ``GET /model``, the model page and the
reports page, so the three never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from gradewatch.models.baselines import Informativeness, assess
from gradewatch.settings import Settings
from gradewatch.storage.registry import VersionRecord, champion_record, shadow_record

NOT_INFORMATIVE_WARNING = (
    "The model in use does not beat a naive rule of thumb (the average grade, or the previous "
    "grade) by the required margin: its at-risk list is no better than a rule of thumb. Use it "
    "with care, and look at each student's previous grade and attendance yourself."
)


@dataclass(frozen=True)
class ModelStanding:
    champion: VersionRecord | None
    informativeness: Informativeness | None
    shadow: VersionRecord | None

    @property
    def not_informative(self) -> bool:
        """True only when the champion is known NOT to beat the baselines (None is unknown)."""
        return self.informativeness is not None and self.informativeness.informative is False

    @property
    def warning(self) -> str | None:
        return NOT_INFORMATIVE_WARNING if self.not_informative else None

    def to_dict(self) -> dict[str, Any]:
        verdict = self.informativeness.to_dict() if self.informativeness else {}
        return {"informative": verdict.get("informative"),
                "baselines": verdict.get("baselines", {}),
                "baseline_comparison": verdict,
                "warning": self.warning,
                "shadow_version": self.shadow.version if self.shadow else None}


def model_standing(engine: Engine, settings: Settings) -> ModelStanding:
    champion = champion_record(engine)
    if champion is None:
        return ModelStanding(None, None, None)
    return ModelStanding(champion, assess(champion.metrics, settings.baseline_min_gain), shadow_record(engine))
