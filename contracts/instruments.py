"""Built-in survey instruments: bilingual question sets with their answer scales and rules.

The first is the six user questions SKR (Sveriges Kommuner och Regioner)
proposed in 2019 for following up social services, which Stockholm chose for
its city-wide user follow-up.  The wording below is our paraphrase, not SKR's
official text; what the engine relies on is the structure: six questions, a
five-step scale per question, 9 for "don't know" (missing, never a score),
the third question asked only when the first or second shows improvement, and
the two change questions answered either "since the support started" or
"since the last follow-up".
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_PERIODS = ("since_start", "since_last_follow_up")
REFERENCE_PERIOD_TEXT = {
    "since_start": ("sedan stödet började", "since the support started"),
    "since_last_follow_up": ("sedan förra uppföljningen", "since the last follow-up"),
}


@dataclass(frozen=True)
class Scale:
    labels_sv: tuple[str, ...]
    labels_en: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.labels_en)


@dataclass(frozen=True)
class Question:
    id: str
    sv: str
    en: str
    scale: Scale
    asks_about_change: bool = False  # answered relative to a reference period
    asked_when_improved: tuple[str, ...] = ()  # asked only if one of these shows improvement
    improvement_codes: tuple[int, ...] = ()  # the codes of this question that mean "improved"


@dataclass(frozen=True)
class Instrument:
    id: str
    name_sv: str
    name_en: str
    scale_min: int
    scale_max: int
    dont_know: int  # the code for "don't know": missing, never a score
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


CHANGE = Scale(("Mycket sämre", "Något sämre", "Oförändrad", "Något bättre", "Mycket bättre"),
               ("Much worse", "Somewhat worse", "Unchanged", "Somewhat better", "Much better"))
IMPORTANCE = Scale(("Inte alls viktigt", "Lite viktigt", "Ganska viktigt", "Viktigt", "Mycket viktigt"),
                   ("Not at all important", "Slightly important", "Fairly important", "Important", "Very important"))
SATISFACTION = Scale(("Mycket missnöjd", "Ganska missnöjd", "Varken eller", "Ganska nöjd", "Mycket nöjd"),
                     ("Very dissatisfied", "Fairly dissatisfied", "Neither", "Fairly satisfied", "Very satisfied"))
TREATMENT = Scale(("Mycket dåligt", "Ganska dåligt", "Varken eller", "Ganska bra", "Mycket bra"),
                  ("Very poorly", "Fairly poorly", "Neither", "Fairly well", "Very well"))
INFLUENCE = Scale(("Inte alls", "I liten utsträckning", "I viss utsträckning", "I stor utsträckning", "Helt och hållet"),
                  ("Not at all", "To a small extent", "To some extent", "To a large extent", "Completely"))

SKR_USER_QUESTIONS = Instrument(
    id="skr_user_questions",
    name_sv="SKR:s sex brukarfrågor",
    name_en="SKR's six user questions",
    scale_min=1,
    scale_max=5,
    dont_know=9,
    questions=(
        Question("situation_change", "Hur har din situation förändrats?", "How has your situation changed?",
                 CHANGE, asks_about_change=True, improvement_codes=(4, 5)),
        Question("quality_of_life_change", "Hur har din livskvalitet förändrats?",
                 "How has your quality of life changed?", CHANGE, asks_about_change=True, improvement_codes=(4, 5)),
        Question("importance_of_support", "Hur viktigt har stödet varit för förbättringen?",
                 "How important has the support been for the improvement?", IMPORTANCE,
                 asked_when_improved=("situation_change", "quality_of_life_change")),
        Question("overall_satisfaction", "Hur nöjd är du sammantaget med stödet?",
                 "Overall, how satisfied are you with the support?", SATISFACTION),
        Question("treatment", "Hur har du blivit bemött av personalen?", "How have you been treated by the staff?",
                 TREATMENT),
        Question("influence", "Hur mycket har du kunnat påverka stödet?",
                 "How much have you been able to influence the support?", INFLUENCE),
    ),
)

INSTRUMENTS: dict[str, Instrument] = {SKR_USER_QUESTIONS.id: SKR_USER_QUESTIONS}
