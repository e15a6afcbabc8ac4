"""What a contract file's author and the contract registry are told: every problem in a file (where, the value,
what is allowed), a contract that is not there, versions that cannot be stored.

A value from the file is passed already written as the file would write it (``problems.show``); the
words around it follow the reader's language.
"""

from language import N_, Texts

TEXTS = Texts("contracts", {
    "unknown": N_("no contract '{contract}' in the store; 'sib contract list' shows the loaded ones"),
    "version_changed": N_("version {version} of contract '{contract}' is already stored with other terms; stored "
                          "versions never change: add an amendment instead"),
    "versions_missing": N_("contract '{contract}' has stored version(s) {versions} that this file lacks"),
    # reading the file
    "no_file": N_("no such file"),
    "directory": N_("is a directory, not a contract file"),
    "not_utf8": N_("is not UTF-8 text"),
    "yaml": N_("YAML syntax error: {problem}"),
    "yaml_too_large": N_("the file has {n} characters; a contract file may have at most {limit}"),
    "yaml_too_deep": N_("nested deeper than {limit} levels; refused before reading further"),
    "yaml_too_many": N_("expands to more than {limit} values through its aliases (*name); refused before reading "
                        "further"),
    "empty_file": N_("the file is empty; expected a contract (a mapping with id, name, term, ...)"),
    "top_not_mapping": N_("expected a mapping (key: value) at the top, got {got}"),
    "top_not_mapping_of": N_("expected a mapping (key: value) at the top of the {what} file, got {got}"),
    # survey instruments (contracts.instruments, contracts.instrument_store)
    "instrument_duplicate_question": N_("question {question} appears twice; each question id may appear once"),
    "instrument_duplicate_code": N_("question {question} uses an answer code twice; each code may appear once"),
    "instrument_dont_know_code": N_("question {question}: the \"don't know\" code {value} is also an answer code"),
    "instrument_favourable": N_("question {question}: favourable codes {codes} are not among its answer codes"),
    "instrument_condition_question": N_("question {question} is asked after {other}, which is not an earlier "
                                        "question of this instrument"),
    "instrument_condition_codes": N_("question {question}: codes {codes} are not answer codes of {other}"),
    "costs_index_gap": N_("the index has no value for {years}; a series must give every year from {first} to {last}"),
    "costs_duplicate_item": N_("cost item {item} appears twice (see items[{other}]); each item id may appear once"),
    "costs_range": N_("cost item {item}: low {low}, central {central} and high {high} must rise (low <= central <= "
                      "high)"),
    "costs_price_year": N_("cost item {item}: price year {year} is not in the index {series} ({first}-{last}); "
                           "add the year to the index"),
    "costs_department": N_("cost item {item}: department {department} is not among this file's departments; known: "
                           "{known}"),
    "costs_version_changed": N_("cost file {costs} version {version} is already stored with other content; stored "
                                "versions never change: give it a new version"),
    # the payer's business case (contracts.costs, the contract's valuation)
    "horizon_after_term": N_("the outcome windows of {metric} for cohort {cohort} close on {closes}; with the {lag}-day "
                             "payment lag the last payment falls due on {due}, after the contract term ends "
                             "({end}): extend the term or shorten the window"),
    "avoids_without_valuation": N_("a metric that avoids costs needs a valuation section naming the cost file"),
    "unknown_costs": N_("cost file {costs} is not loaded; load it with 'sib costs load FILE' (or name the file with "
                        "--costs); loaded: {known}"),
    "unknown_costs_version": N_("cost file {costs} has no version {version} loaded"),
    "costs_currency": N_("cost file {costs} is in {currency}, the contract in {contract}"),
    "valuation_price_year": N_("price year {year} is not in the index of cost file {costs} ({first}-{last})"),
    "unknown_cost_item": N_("{item} is not an item of cost file {costs}; items: {items}"),
    "horizon_never": N_("at the planning effect and central costs, expected cumulative savings never reach the "
                        "principal ({principal}) within the follow-up; the last payment falls due on {due} ('sib design "
                        "horizon' shows it month by month)"),
    "horizon_late": N_("at the planning effect and central costs, expected cumulative savings reach the principal "
                       "({principal}) only in {month}, after the last payment falls due ({due}); 'sib design horizon' "
                       "shows longer follow-ups"),
    "org_years": N_("unit {unit}: 'to' ({end}) is before 'from' ({start})"),
    "org_overlap": N_("unit {unit} is placed twice for the same years (see units[{other}]); a unit belongs to one "
                      "district and area at a time"),
    "org_unknown": N_("{key} is not a {what} of this organisation; known: {known}"),
    "org_version_changed": N_("organisation {organisation} version {version} is already stored with other content; "
                              "stored versions never change: give it a new version"),
    "instrument_builtin": N_("{instrument} version {version} is built in and cannot be replaced; give your "
                             "instrument another id or version"),
    "instrument_version_changed": N_("{instrument} version {version} is already stored with other content; stored "
                                     "versions never change: give it a new version"),
    "mapping_not_mapping": N_("expected a mapping (key: value) with columns, formats and units"),
    "duplicate_key": N_("duplicate key {key}; each key may appear once"),
    "in_version": N_("in version {version} (amendments[{i}]): {problem}"),
    # amendments
    "not_amendable": N_("{path} cannot be amended; ids and the amendment list stay as they are"),
    "no_item": N_("no item with id {id} in {where}; ids: {ids}"),
    "not_in_original": N_("{path} does not exist in the original contract"),
    "names_a_list": N_("{path} names a list; amend an item's field, e.g. {example}.<id>.<field>"),
    # a field's type and form
    "missing_tag": N_("required field is missing; expected one of: {allowed}"),
    "missing": N_("required field is missing"),
    "unknown_field": N_("unknown field; allowed fields: {allowed}"),
    "unknown_field_hint": N_("unknown field (did you mean '{hint}'?); allowed fields: {allowed}"),
    "not_allowed": N_("{got} is not allowed; expected one of: {allowed}"),
    "not_a_date": N_("{got} is not a valid date; expected YYYY-MM-DD"),
    "not_a_number": N_("{got} is not a number"),
    "not_whole": N_("{got} is not a whole number"),
    "not_boolean": N_("{got} is not allowed; expected true or false"),
    "at_least": N_("{got} is out of range; must be at least {limit}"),
    "greater_than": N_("{got} is out of range; must be greater than {limit}"),
    "at_most": N_("{got} is out of range; must be at most {limit}"),
    "less_than": N_("{got} is out of range; must be less than {limit}"),
    "amount_too_large": N_("{got} is out of range; an amount may be at most {limit} (10^13) in the contract's "
                           "currency"),
    "decimal_places": N_("{got} has too many decimals; an amount may have at most {limit}"),
    "share_places": N_("{got} has too many decimals; a share may have at most {limit}"),
    "currency": N_("{got} is not an ISO 4217 currency code; expected three capital letters such as SEK"),
    "slug": N_("{got} is not a valid id; use lower-case letters, digits, '-' and '_'"),
    "empty": N_("must not be empty"),
    "too_long": N_("{got} is too long; at most {limit} characters"),
    "too_few_items": N_("needs at least {limit} item(s), got {n}"),
    "expected_mapping": N_("expected a mapping (key: value), got {kind}"),
    "expected_list": N_("expected a list, got {kind}"),
    "expected_text": N_("expected text, got {kind}"),
    "kind_mapping": N_("a mapping"),
    "kind_list": N_("a list"),
    "kind_text": N_("the text {value}"),
    "kind_value": N_("{value}"),
    "invalid": N_("{reason} (got {got})"),
    # checks across fields
    "duplicate_party": N_("duplicate party id {id}"),
    "duplicate_cohort": N_("duplicate cohort id {id}"),
    "duplicate_metric": N_("duplicate metric id {id}"),
    "duplicate_mechanism": N_("duplicate mechanism id {id}"),
    "term_end": N_("{end} is not after term.start {start}"),
    "enrolment_end": N_("{end} is before enrolment_start {start}"),
    "outside_term": N_("{day} is outside the contract term {start} to {end}"),
    "cohorts_overlap": N_("enrolment window {start} to {end} overlaps cohort {other}"),
    "duplicate_attribute": N_("duplicate attribute {name}"),
    "category_values": N_("category attribute {name} needs a list of allowed values"),
    "not_declared": N_("{name} is not a declared attribute; declared: {declared}"),
    "not_declared_none": N_("{name} is not a declared attribute; declared: none"),
    "between_value": N_("{value} is not allowed; 'between' needs a list of two values [low, high]"),
    "in_value": N_("{value} is not allowed; 'in' needs a non-empty list of values"),
    "single_value": N_("{value} is not allowed; {op} needs a single value"),
    "not_a_value": N_("{value} is not a value of {name}; allowed: {allowed}"),
    "window_end": N_("{end} is not after window.start_months {start}"),
    "window_after_design": N_("difference_in_differences counts periods from the enrolment; a window after {after} "
                              "is for the other designs"),
    "denominator_design": N_("a denominator (rates per 1,000 of a unit's population) is for the panel designs, "
                             "difference_in_differences and synthetic_control, not {design}"),
    "window_event_missing": N_("a window after an event needs window.event: the binary metric that dates the event"),
    "window_event_unused": N_("window.event is only used with after: event, not after: {after}"),
    "window_event_kind": N_("{metric} cannot date a window: an event is another binary, non-anonymous metric whose "
                            "own window counts from enrolment or exit"),
    "evaluation_only": N_("contract '{contract}' is evaluation-only: it has no payments section, so there is "
                          "nothing to calculate, schedule, forecast or approve"),
    "investment_without_payments": N_("an investment needs a payments section: without outcome payments nothing "
                                      "repays it"),
    "unknown_instrument": N_("{instrument} is not a known instrument (built in or loaded with 'sib instrument load'); "
                             "known: {known}"),
    "unknown_instrument_version": N_("{instrument} has no version {version}; known versions: {known}"),
    "survey_direction": N_("{direction} does not match {instrument}: its favourable answers are codes {codes}, "
                           "so the direction is {expected}"),
    "unknown_question": N_("{question} is not a question of {instrument}; expected one of: {ids}"),
    "survey_kind": N_("{kind} is not allowed for a survey question; expected ordinal"),
    "ordinal_scale": N_("an ordinal metric needs a scale (min, max) or a survey instrument"),
    "scale_max": N_("{max} is not above scale.min {min}"),
    "anonymous": N_("anonymous answers are only for survey questions with design monitoring"),
    "not_achieved": N_("'not_achieved' needs a binary metric or an achieved_when threshold"),
    "missing_zero": N_("'zero' is not allowed for a {kind} metric; only for count or continuous"),
    "staggered_design": N_("staggered adoption (Callaway–Sant'Anna) is for design difference_in_differences, not "
                           "{design}"),
    "missing_for_design": N_("required field is missing for design {design}"),
    "baseline_range": N_("{baseline} is out of range; a {kind} baseline must be between 0 and 1"),
    "pre_window_end": N_("{end} is after the start of the outcome window ({start}); the 'before' window must end "
                         "before it"),
    "needs_covariate": N_("matched_comparison needs at least one covariate"),
    "not_a_cohort": N_("{cohort} is not a cohort; cohorts: {cohorts}"),
    "exact_type": N_("{name} is a {type}; exact matching needs a category or boolean"),
    "numeric_type": N_("{name} is a {type}; squares and interactions need numbers"),
    "bands": N_("a numeric attribute needs at least two band edges in increasing order, got {bands}"),
    "not_a_metric": N_("{metric} is not a metric of this contract; metrics: {metrics}"),
    "overall_threshold": N_("{overall} is above cohort_threshold {cohort}; the pooled trigger must not be stricter"),
    "card_both": N_("give either metric and price (one outcome) or outcomes (several), not both"),
    "card_missing": N_("required field is missing: a rate card needs metric and price, or outcomes"),
    "priced_twice": N_("{metric} is priced twice in this rate card"),
    "not_an_outcome": N_("{metric} is not an outcome of this rate card; outcomes: {outcomes}"),
    "cap_inner": N_("{low} is above {outer} {high}; a cap cannot be larger than the cap that contains it"),
    "cap_total": N_("{cap} is above the contract's total cap {total}; a cap cannot be larger than the cap that "
                    "contains it"),
    "repay_above_cap": N_("{upto} is above the mechanism's cap {cap}: the one-for-one repayment it promises could "
                          "never be paid"),
    "per_outcome_kind": N_("{kind} pays per achieved outcome, so metric {metric} needs kind binary or an "
                           "achieved_when threshold"),
    "needs_counterfactual": N_("{kind} pays on an effect, but metric {metric} has design {design}, which has no "
                               "counterfactual"),
    "savings_kind": N_("savings_share needs a count or continuous metric; {metric} is {kind}"),
    "pays_on_per_outcome": N_("'lower_bound' is not allowed for {kind}: it pays a price per verified outcome, not "
                              "per unit of improvement, so there is no improvement for a confidence bound to lower; "
                              "expected point_estimate or significant"),
    "pays_on_needs_effect": N_("pays_on {rule} needs an effect estimate with its p-value, but metric {metric} has "
                               "design {design}, which has no counterfactual: the mechanism would never pay"),
    # warnings: the file is valid, but a reader should know
    "point_estimate_no_counterfactual": N_("{kind} pays on the point estimate (pays_on point_estimate, the default), "
                                           "but metric {metric} has design {design}, which has no counterfactual: "
                                           "what it pays is not shown to be the intervention's effect"),
    "duplicate_payer": N_("duplicate payer {payer}"),
    "shares": N_("payer shares add up to {total}; they must add up to 1"),
    "not_a_payer": N_("{name} is not a payer; payers: {payers}"),
    "not_a_party": N_("{party} is not a party of this contract; parties: {parties}"),
    "payer_role": N_("{party} has role {role}; an outcome payer needs role payer"),
    "commitment_role": N_("{party} has role {role}; a commitment needs role investor"),
    "commitments": N_("commitments add up to {total}; they must equal the principal {principal}"),
    "drawdown_both": N_("give either drawdown_date (one drawdown) or drawdowns, not both"),
    "drawdowns": N_("drawdowns add up to {total}; they must equal the principal {principal}"),
    "shared": N_("above_cap 'shared' needs return_cap_irr and an investor_share_above_cap above 0"),
    "amendment_order": N_("{version} is out of order; expected {expected} (versions count up from 1, the original)"),
    "amendment_date": N_("{effective} is not allowed; expected a date after {previous} and no later than the term "
                         "end {end}"),
    "retroactive": N_("contract version {version} ({reason}) takes effect on {effective:day}, before the end of "
                      "period {period}, which already has ledger entries; mark the amendment 'retroactive: true' to "
                      "settle the difference as adjustments in the current period"),
    "threshold_lowered": N_("contract version {version} of '{contract}' lowers the suppression threshold from "
                            "{threshold} to {lowered}, but the contract already has data: cells hidden from investors "
                            "and payers would show and could be differenced against what they saw; keep "
                            "suppression_threshold at {threshold} or more"),
})
