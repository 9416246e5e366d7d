"""The dispatcher's vocabulary: severities and symptom categories an SOS can carry."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Operator-assigned acuity; drives ALS preference and capability requirements."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SymptomCategory(StrEnum):
    """What the caller reports; the documented list accepted by SOS intake."""

    CARDIAC_ARREST = "cardiac_arrest"
    CHEST_PAIN = "chest_pain"
    STROKE_SYMPTOMS = "stroke_symptoms"
    MAJOR_TRAUMA = "major_trauma"
    BURNS = "burns"
    BREATHING = "breathing"
    OBSTETRIC = "obstetric"
    PAEDIATRIC = "paediatric"
    OVERDOSE = "overdose"
    PSYCHIATRIC = "psychiatric"
    OTHER = "other"


SYMPTOM_DESCRIPTIONS: dict[SymptomCategory, str] = {
    SymptomCategory.CARDIAC_ARREST: "unresponsive, not breathing normally",
    SymptomCategory.CHEST_PAIN: "chest pain or suspected heart attack",
    SymptomCategory.STROKE_SYMPTOMS: "face drooping, arm weakness, speech difficulty",
    SymptomCategory.MAJOR_TRAUMA: "road collision, fall from height, penetrating injury",
    SymptomCategory.BURNS: "thermal, chemical or electrical burns",
    SymptomCategory.BREATHING: "severe shortness of breath, choking, asthma",
    SymptomCategory.OBSTETRIC: "pregnancy or labour complications",
    SymptomCategory.PAEDIATRIC: "a sick or injured child",
    SymptomCategory.OVERDOSE: "poisoning or overdose",
    SymptomCategory.PSYCHIATRIC: "acute mental-health crisis",
    SymptomCategory.OTHER: "anything else",
}
