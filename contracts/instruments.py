"""Built-in survey instruments: bilingual question sets with their answer scales.

The first is the six user questions SKR (Sveriges Kommuner och Regioner)
proposed in 2019 for following up social services, which Stockholm chose for
its city-wide user follow-up.  The wording below is our paraphrase, not SKR's
official text; the structure (six questions, a five-step scale, "don't know"
as missing) is what the engine relies on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: str
    sv: str
    en: str


@dataclass(frozen=True)
class Instrument:
    id: str
    name_sv: str
    name_en: str
    scale_min: int
    scale_max: int
    dont_know: int  # the code for "don't know": missing, never a score
    labels_sv: tuple[str, ...]
    labels_en: tuple[str, ...]
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


SKR_USER_QUESTIONS = Instrument(
    id="skr_user_questions",
    name_sv="SKR:s sex brukarfrågor",
    name_en="SKR's six user questions",
    scale_min=1,
    scale_max=5,
    dont_know=9,
    labels_sv=("Mycket dåligt", "Ganska dåligt", "Varken eller", "Ganska bra", "Mycket bra"),
    labels_en=("Very poor", "Fairly poor", "Neither", "Fairly good", "Very good"),
    questions=(
        Question("situation_change", "Har din situation förändrats sedan du fick stödet?",
                 "Has your situation changed since you received the support?"),
        Question("quality_of_life_change", "Har din livskvalitet förändrats sedan du fick stödet?",
                 "Has your quality of life changed since you received the support?"),
        Question("importance_of_support", "Hur viktigt har stödet varit för dig?",
                 "How important has the support been to you?"),
        Question("overall_satisfaction", "Hur nöjd är du sammantaget med stödet?",
                 "Overall, how satisfied are you with the support?"),
        Question("treatment", "Hur har du blivit bemött av personalen?",
                 "How have you been treated by the staff?"),
        Question("influence", "Hur mycket har du kunnat påverka stödet?",
                 "How much have you been able to influence the support?"),
    ),
)

INSTRUMENTS: dict[str, Instrument] = {SKR_USER_QUESTIONS.id: SKR_USER_QUESTIONS}
