"""Which capability a patient needs, from symptom and severity: the documented dispatch rules."""

from __future__ import annotations

from dispatch.taxonomy import Severity, SymptomCategory
from facilities.capabilities import Capability

#: Before an operator triages, the severity presumed from the symptom alone.
PRESUMED_SEVERITY: dict[SymptomCategory, Severity] = {
    SymptomCategory.CARDIAC_ARREST: Severity.CRITICAL,
    SymptomCategory.STROKE_SYMPTOMS: Severity.HIGH,
    SymptomCategory.MAJOR_TRAUMA: Severity.HIGH,
    SymptomCategory.CHEST_PAIN: Severity.HIGH,
    SymptomCategory.BURNS: Severity.HIGH,
    SymptomCategory.BREATHING: Severity.HIGH,
    SymptomCategory.OBSTETRIC: Severity.HIGH,
    SymptomCategory.PAEDIATRIC: Severity.MEDIUM,
    SymptomCategory.OVERDOSE: Severity.HIGH,
    SymptomCategory.PSYCHIATRIC: Severity.MEDIUM,
    SymptomCategory.OTHER: Severity.MEDIUM,
}

HIGH_ACUITY = frozenset({Severity.HIGH, Severity.CRITICAL})


def required_capability(
    symptom: SymptomCategory | str, severity: Severity | str | None
) -> tuple[Capability, str]:
    """The capability the destination must have, and the reason in words.

    The rules (documented in the README):

    * cardiac_arrest -> stemi_pci (post-resuscitation care needs a cath lab);
    * chest_pain: high/critical -> stemi_pci, otherwise general_ed;
    * stroke_symptoms: critical -> stroke_thrombectomy, otherwise stroke_thrombolysis;
    * major_trauma: critical -> trauma_1, high -> trauma_2, otherwise trauma_3;
    * burns: high/critical -> burns, otherwise general_ed;
    * obstetric -> obstetric; paediatric -> paediatric; psychiatric -> psychiatric;
    * breathing, overdose, other -> general_ed.

    Without a severity (before triage) the presumed severity of the symptom is used.
    """
    symptom = SymptomCategory(symptom)
    presumed = severity is None
    level = PRESUMED_SEVERITY[symptom] if severity is None else Severity(severity)
    basis = f"{symptom.value} at {'presumed ' if presumed else ''}{level.value} severity"
    match symptom:
        case SymptomCategory.CARDIAC_ARREST:
            return Capability.STEMI_PCI, f"{basis}: post-resuscitation care needs primary PCI"
        case SymptomCategory.CHEST_PAIN if level in HIGH_ACUITY:
            return Capability.STEMI_PCI, f"{basis}: suspected STEMI needs primary PCI"
        case SymptomCategory.STROKE_SYMPTOMS if level is Severity.CRITICAL:
            return (
                Capability.STROKE_THROMBECTOMY,
                f"{basis}: suspected large-vessel occlusion needs thrombectomy",
            )
        case SymptomCategory.STROKE_SYMPTOMS:
            return Capability.STROKE_THROMBOLYSIS, f"{basis}: needs CT and thrombolysis"
        case SymptomCategory.MAJOR_TRAUMA if level is Severity.CRITICAL:
            return Capability.TRAUMA_1, f"{basis}: needs a major trauma centre"
        case SymptomCategory.MAJOR_TRAUMA if level is Severity.HIGH:
            return Capability.TRAUMA_2, f"{basis}: needs a trauma unit"
        case SymptomCategory.MAJOR_TRAUMA:
            return Capability.TRAUMA_3, f"{basis}: needs trauma stabilisation"
        case SymptomCategory.BURNS if level in HIGH_ACUITY:
            return Capability.BURNS, f"{basis}: needs a burns unit"
        case SymptomCategory.OBSTETRIC:
            return Capability.OBSTETRIC, f"{basis}: needs emergency obstetrics"
        case SymptomCategory.PAEDIATRIC:
            return Capability.PAEDIATRIC, f"{basis}: needs a paediatric emergency department"
        case SymptomCategory.PSYCHIATRIC:
            return Capability.PSYCHIATRIC, f"{basis}: needs a psychiatric emergency service"
        case _:
            return Capability.GENERAL_ED, f"{basis}: any emergency department"
