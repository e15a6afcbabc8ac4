"""Swedish and English for reports and pages: words, and numbers written as each language writes them.

Swedish: 1 234 567,89 kr, 3,5 %, a space between thousands (a no-break space, so figures never wrap).
English: SEK 1,234,567.89, 3.5 %.  Swedish is the default for contracts in SEK.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from payments.money import quantum, round_money

NBSP = "\u00a0"
LANGUAGES = ("sv", "en")

WORDS: dict[str, dict[str, str]] = {
    "report_title": {"sv": "Oberoende utvärderingsrapport", "en": "Independent evaluation report"},
    "evaluated_as_of": {"sv": "Utvärderat per {as_of} enligt avtalsversion {version} ({reason}, gäller från {effective}).",
                        "en": "Evaluated as of {as_of} under contract version {version} ({reason}, effective {effective})."},
    "generated": {"sv": "Skapad {when}.", "en": "Generated {when}."},
    "attention": {"sv": "Observera", "en": "Please note"},
    "no_verified": {"sv": "Inga verifierade mätningar finns ännu: rapporten visar inga resultat och inga belopp.",
                    "en": "There are no verified measurements yet: the report shows no results and no amounts."},
    "interim": {"sv": "Delrapport: utvärderingen innehåller mätningar som inte är verifierade. Den får inte ligga till grund för betalning.",
                "en": "Interim view: this evaluation includes measurements that have not been verified. It must not be used for payment."},
    "warnings_count": {"sv": "Resultaten har {n} varningar; de står under varje mått i avsnitt 4.",
                       "en": "The results carry {n} warnings; they are listed under each metric in section 4."},
    "summary": {"sv": "Sammanfattning", "en": "Summary"},
    "contract": {"sv": "Avtalet", "en": "The contract"},
    "coverage": {"sv": "Datatäckning", "en": "Data coverage"},
    "results": {"sv": "Resultat per mått och kohort", "en": "Results by metric and cohort"},
    "methodology": {"sv": "Metod", "en": "Methodology"},
    "trail": {"sv": "Betalningsberäkningen steg för steg", "en": "Payment calculation trail"},
    "ledger_status": {"sv": "Huvudbokens status", "en": "Ledger status"},
    "reproducibility": {"sv": "Reproducerbarhet", "en": "Reproducibility"},
    "metric": {"sv": "Mått", "en": "Metric"},
    "design": {"sv": "Design", "en": "Design"},
    "participants": {"sv": "Deltagare", "en": "Participants"},
    "outcome": {"sv": "Utfall", "en": "Outcome"},
    "counterfactual": {"sv": "Jämförelse", "en": "Counterfactual"},
    "effect": {"sv": "Effekt", "en": "Effect"},
    "ci": {"sv": "95 % KI", "en": "95 % CI"},
    "p": {"sv": "p", "en": "p"},
    "monitoring_only": {"sv": "endast uppföljning", "en": "monitoring only"},
    "cohort": {"sv": "Kohort", "en": "Cohort"},
    "comparison": {"sv": "Jämförelsegrupp", "en": "Comparison"},
    "mean": {"sv": "Medel", "en": "Mean"},
    "relative": {"sv": "Relativ", "en": "Relative"},
    "achieved": {"sv": "Uppnått", "en": "Achieved"},
    "payments_to_date": {"sv": "Beräknade utfallsbetalningar hittills: {amount}.",
                         "en": "Outcome payments calculated to date: {amount}."},
    "investor_line": {"sv": "Investerat kapital {drawn}; investerarnas nettoresultat {net}, multipel {multiple}{irr}.",
                      "en": "Invested principal {drawn}; net result for investors {net}, money multiple {multiple}{irr}."},
    "irr": {"sv": ", internränta {irr}", "en": ", IRR {irr}"},
    "term": {"sv": "Avtalsperiod {start} till {end}; valuta {currency}. Målgrupp: {target}.",
             "en": "Term {start} to {end}; currency {currency}. Target group: {target}."},
    "party": {"sv": "Part", "en": "Party"},
    "role": {"sv": "Roll", "en": "Role"},
    "eligibility": {"sv": "Behörighet", "en": "Eligibility"},
    "cohorts": {"sv": "Kohorter", "en": "Cohorts"},
    "enrolment_window": {"sv": "Inskrivningsperiod", "en": "Enrolment window"},
    "target_size": {"sv": "Planerad storlek", "en": "Target size"},
    "metrics": {"sv": "Utfallsmått", "en": "Outcome metrics"},
    "kind": {"sv": "Typ", "en": "Kind"},
    "better_when": {"sv": "Bättre när", "en": "Better when"},
    "higher": {"sv": "högre", "en": "higher"},
    "lower": {"sv": "lägre", "en": "lower"},
    "window": {"sv": "Fönster (månader efter start)", "en": "Window (months after enrolment)"},
    "aggregation": {"sv": "Sammanvägning", "en": "Aggregation"},
    "missing_data": {"sv": "Saknade data", "en": "Missing data"},
    "mechanisms": {"sv": "Betalningsmodeller", "en": "Payment mechanisms"},
    "mechanism": {"sv": "Modell", "en": "Mechanism"},
    "type": {"sv": "Typ", "en": "Type"},
    "terms": {"sv": "Villkor", "en": "Terms"},
    "versions": {"sv": "Versioner", "en": "Versions"},
    "version": {"sv": "Version", "en": "Version"},
    "effective": {"sv": "Gäller från", "en": "Effective"},
    "reason": {"sv": "Skäl", "en": "Reason"},
    "fingerprint": {"sv": "Fingeravtryck", "en": "Fingerprint"},
    "measurements_used": {"sv": "Använda mätningar: {n}{verified}.", "en": "Measurements used: {n}{verified}."},
    "verified_share": {"sv": ", varav {share} verifierade", "en": ", of which {share} verified"},
    "participants_by_arm": {"sv": "Deltagare: {arms}.", "en": "Participants: {arms}."},
    "measurements": {"sv": "Mätningar", "en": "Measurements"},
    "survey_question": {"sv": "Enkätfråga", "en": "Survey question"},
    "balance_after": {"sv": "Balans efter matchning", "en": "Balance after matching"},
    "covariate": {"sv": "Bakgrundsvariabel", "en": "Covariate"},
    "smd_before": {"sv": "SMD före", "en": "SMD before"},
    "smd_after": {"sv": "SMD efter", "en": "SMD after"},
    "vr_before": {"sv": "Variansk. före", "en": "Variance ratio before"},
    "vr_after": {"sv": "Variansk. efter", "en": "Variance ratio after"},
    "pre_trends": {"sv": "Trender före start", "en": "Pre-trends"},
    "power": {"sv": "Styrka (minsta påvisbara effekt)", "en": "Power (minimum detectable effect)"},
    "power_line": {"sv": "{metric}: med de {n} deltagare som utvärderades (alla kohorter) kan en effekt på {mde} påvisas med 80 % styrka (α {alpha}).",
                   "en": "{metric}: with the {n} participants evaluated (all cohorts), an effect of {mde} can be detected with 80 % power (α {alpha})."},
    "owed_intro": {"sv": "Varje rad är det belopp som är skyldigt hittills enligt denna utvärdering, efter tak, avrundat en gång (halvt uppåt till minsta enhet) och fördelat på betalare. Det förfaller period {period}.",
                   "en": "Each line is the cumulative amount owed to date on this evaluation, after caps, rounded once (half-up to the minor unit) and split across payers. It is payable in period {period}."},
    "payer": {"sv": "Betalare", "en": "Payer"},
    "calculation": {"sv": "Beräkning", "en": "Calculation"},
    "owed": {"sv": "Skyldigt hittills", "en": "Owed to date"},
    "entries": {"sv": "Huvudboksposter", "en": "Ledger entries"},
    "period": {"sv": "Period", "en": "Period"},
    "status": {"sv": "Status", "en": "Status"},
    "amount": {"sv": "Belopp", "en": "Amount"},
    "total": {"sv": "Summa", "en": "Total"},
    "run": {"sv": "Körning", "en": "Run"},
    "chain_ok": {"sv": "Huvudbokens hashkedja: obruten ({n} poster).", "en": "Ledger hash chain: intact ({n} entries)."},
    "chain_broken": {"sv": "Huvudbokens hashkedja är BRUTEN: {reason}", "en": "Ledger hash chain BROKEN: {reason}"},
    "no_entries": {"sv": "Inga huvudboksposter: inget är skyldigt enligt denna utvärdering.",
                   "en": "No ledger entries: nothing is owed on this evaluation."},
    "evaluation_run": {"sv": "Utvärderingskörning", "en": "Evaluation run"},
    "input_fingerprint": {"sv": "Indatans fingeravtryck (SHA-256)", "en": "Input fingerprint (SHA-256)"},
    "contract_version": {"sv": "Avtalsversion", "en": "Contract version"},
    "code_version_eval": {"sv": "Kodversion (utvärdering)", "en": "Code version (evaluation)"},
    "code_version_report": {"sv": "Kodversion (rapport)", "en": "Code version (report)"},
    "rerun": {"sv": "En andra utvärderare med samma databas och kod kör `sib evaluate {contract} --as-of {as_of}` och får samma fingeravtryck och samma körning.",
              "en": "A second evaluator with the same store and code runs `sib evaluate {contract} --as-of {as_of}` and obtains the same fingerprint and the same run."},
    "window_rule": {"sv": "Varje deltagares utfall vägs samman från de verifierade mätningarna inom måttets fönster, räknat från deltagarens egen start; deltagare vars fönster inte stängt per utvärderingsdatum räknas inte och anges i en varning.",
                    "en": "Each participant's outcome is aggregated from the verified measurements inside the metric's window, counted from that participant's enrolment; participants whose window had not closed by the as-of date are left out and counted in a warning."},
    "page": {"sv": "sida", "en": "page"},
    "of": {"sv": "av", "en": "of"},
    "chart_alt": {"sv": "Diagram: {metric} per kohort med 95 % konfidensintervall och jämförelsenivå",
                  "en": "Chart: {metric} by cohort with 95 % confidence intervals and the comparison level"},
    "rc_price": {"sv": "{price} per deltagare som uppnår {metric}", "en": "{price} per participant achieving {metric}"},
    "rc_exclusive": {"sv": "; endast det högre av {options}", "en": "; only the higher of {options}"},
    "rc_cap_pp": {"sv": "; högst {amount} per deltagare", "en": "; at most {amount} per participant"},
    "ms_amount": {"sv": "{amount} per verifierad händelse", "en": "{amount} per verified event"},
    "ss_terms": {"sv": "besparingen värderas till {unit} per enhet, återbetalas krona för krona upp till {upto}, därefter {share} av det som överstiger",
                 "en": "savings valued at {unit} per unit, repaid one-for-one up to {upto}, then {share} above"},
    "ct_terms": {"sv": "{price} per enhet förbättring och deltagare, om kohorten förbättras med {threshold}",
                 "en": "{price} per unit of improvement per participant, if the cohort improves by {threshold}"},
    "ct_overall": {"sv": " eller alla kohorter tillsammans med {threshold}", "en": " or all cohorts together by {threshold}"},
    "capped": {"sv": "; tak {amount}", "en": "; capped at {amount}"},
    "payers_line": {"sv": "Betalare: {payers}. Betalningsplan: {frequency}, betalas {lag} dagar efter verifiering.",
                    "en": "Payers: {payers}. Schedule: {frequency}, payable {lag} days after verification."},
    "contract_cap": {"sv": " Tak för hela avtalet: {amount}.", "en": " Contract cap: {amount}."},
    "or": {"sv": "eller", "en": "or"},
    "all_cohorts": {"sv": "alla", "en": "all"},
    "and": {"sv": "och", "en": "and"},
    "to": {"sv": "till", "en": "to"},
    "power_no_sd": {"sv": "{metric}: styrkan beräknas inte, eftersom avtalet saknar evaluation.planning_sd för måttet.",
                    "en": "{metric}: power not computed, because the contract gives no evaluation.planning_sd for the metric."},
    "power_none": {"sv": "Inget mått har ännu deltagare nog för en styrkeberäkning.",
                   "en": "No metric has enough participants yet for a power calculation."},
    "no_chart": {"sv": "Inget diagram: inget resultat att visa ännu.", "en": "No chart: there is no result to show yet."},
    "by_status": {"sv": "Per status: {parts}.", "en": "By status: {parts}."},
    "no_results_section": {"sv": "Inga resultat ännu.", "en": "No results yet."},
    "n_comparison": {"sv": "n jämförelse", "en": "n comparison"},
    "mean_ci": {"sv": "medelvärdets 95 % KI {low} till {high}", "en": "mean 95 % CI {low} to {high}"},
    "pretrend_tested": {"sv": "Gemensamt test av att insats- och jämförelseenheterna följdes åt under {periods} perioder före starten: p = {p}.",
                        "en": "Joint test that treated and comparison units moved in parallel over the {periods} period(s) before the start: p = {p}."},
    "balance_line": {"sv": "Pool {pool}; caliper {caliper} SD av logit ({logit}); {neighbours} granne/grannar, {replacement}; {off} borttagna utanför gemensamt stöd, {unmatched} utan matchning; {used} olika personer ur poolen använda.",
                     "en": "Pool {pool}; caliper {caliper} SD of the logit ({logit}); {neighbours} neighbour(s), {replacement}; {off} trimmed for common support, {unmatched} without a match; {used} distinct comparison members used."},
    "with_replacement": {"sv": "med återläggning", "en": "with replacement"},
    "without_replacement": {"sv": "utan återläggning", "en": "without replacement"},
    "cap_reduced": {"sv": "; taket ”{cap}” ({limit}) minskade beloppet med {by}", "en": "; cap “{cap}” ({limit}) reduced it by {by}"},
    "payer_share": {"sv": "; betalarens andel {share} av {amount}", "en": "; payer share {share} of {amount}"},
    "entries_note": {"sv": "Posterna är beräknade belopp; godkännande, fakturering och betalning registreras som egna steg.",
                     "en": "Entries are amounts calculated; approval, invoicing and payment are recorded as separate steps."},
    "includes_unverified": {"sv": ", inklusive overifierade mätningar", "en": ", includes unverified measurements"},
    "as_of_word": {"sv": "per", "en": "as of"},
    "explanations_language": {"sv": "Beräkningstexterna och varningarna skrivs av beräkningsmotorn på engelska.",
                              "en": ""},
    "kind_entry": {"sv": "Slag", "en": "Kind"},
    "description": {"sv": "Beskrivning", "en": "Description"},
    "pg_all_investors": {"sv": 'Alla investerare', "en": 'All investors'},
    "pg_approve": {"sv": 'Godkänn', "en": 'Approve'},
    "pg_as_of": {"sv": 'Per datum', "en": 'As of'},
    "pg_as_of_run": {"sv": 'utvärderat per {as_of} (körning {run})', "en": 'evaluated as of {as_of} (run {run})'},
    "pg_back": {"sv": 'Tillbaka till avtalen', "en": 'Back to the contracts'},
    "pg_bad_token": {"sv": 'Nyckeln gäller inte: den är fel, eller återkallad. Be intermediären om en ny (sib users add).', "en": 'That token is not valid: it is wrong, or revoked. Ask the intermediary for a new one (sib users add).'},
    "pg_band": {"sv": 'P10–P90: {low} – {high}', "en": 'P10–P90: {low} – {high}'},
    "pg_batches": {"sv": 'Leveranser (batcher)', "en": 'Batches'},
    "pg_by": {"sv": 'Av', "en": 'By'},
    "pg_column": {"sv": 'Kolumn', "en": 'Column'},
    "pg_commitment": {"sv": 'Åtagande', "en": 'Commitment'},
    "pg_committed": {"sv": 'Beslutat', "en": 'Committed'},
    "pg_contract": {"sv": 'Avtal', "en": 'Contract'},
    "pg_contracts": {"sv": 'Avtal', "en": 'Contracts'},
    "pg_contracts_caption": {"sv": 'Avtal du har tillgång till: {n}', "en": 'Contracts you have access to: {n}'},
    "pg_csrf": {"sv": 'Formuläret har gått ut eller kom från en annan sida; ladda om sidan och försök igen.', "en": 'The form has expired or came from another site; reload the page and try again.'},
    "pg_currency": {"sv": 'Valuta', "en": 'Currency'},
    "pg_dashboard": {"sv": 'Översikt för investerare', "en": 'Investor dashboard'},
    "pg_decision": {"sv": 'Beslut', "en": 'Decision'},
    "pg_delivered": {"sv": 'Levererad', "en": 'Delivered'},
    "pg_distributed": {"sv": 'Utbetalt', "en": 'Distributed'},
    "pg_done_approved": {"sv": 'Post {entry} är godkänd.', "en": 'Entry {entry} approved.'},
    "pg_done_rejected": {"sv": 'Post {entry} är avvisad.', "en": 'Entry {entry} rejected.'},
    "pg_download": {"sv": 'Ladda ner betalningsplanen', "en": 'Download the schedule'},
    "pg_drawn": {"sv": 'Insatt', "en": 'Drawn'},
    "pg_entry": {"sv": 'post {entry}', "en": 'entry {entry}'},
    "pg_error_title": {"sv": 'Sidan kan inte visas ({code})', "en": 'This page cannot be shown ({code})'},
    "pg_errors_n": {"sv": '{n} fel', "en": '{n} errors'},
    "pg_file": {"sv": 'Fil', "en": 'File'},
    "pg_forbidden": {"sv": 'Rollen {role} har inte den här sidan.', "en": 'The {role} role does not have this page.'},
    "pg_forecast": {"sv": 'Prognos', "en": 'Forecast'},
    "pg_forecast_irr": {"sv": 'Prognos, internränta (P50)', "en": 'Forecast IRR (P50)'},
    "pg_interim": {"sv": 'delrapport (overifierat)', "en": 'interim (unverified)'},
    "pg_investor": {"sv": 'Investerare', "en": 'Investor'},
    "pg_irr": {"sv": 'Internränta', "en": 'IRR'},
    "pg_kind_run": {"sv": 'Slag', "en": 'Kind'},
    "pg_ledger": {"sv": 'Huvudbok', "en": 'Ledger'},
    "pg_login": {"sv": 'Logga in', "en": 'Log in'},
    "pg_login_button": {"sv": 'Logga in', "en": 'Log in'},
    "pg_login_intro": {"sv": 'Logga in med den nyckel (token) du fick av intermediären. Den sparas i en cookie som sidor i webbläsaren inte kan läsa, och bara för den här webbplatsen.', "en": 'Log in with the token the intermediary gave you. It is kept in a cookie that scripts cannot read, sent only to this site.'},
    "pg_logout": {"sv": 'Logga ut', "en": 'Log out'},
    "pg_more_errors": {"sv": '… och {n} fel till (hela felrapporten fick den som levererade filen).', "en": '… and {n} more errors (whoever delivered the file got the whole error report).'},
    "pg_multiple": {"sv": 'Multipel', "en": 'Multiple'},
    "pg_nav": {"sv": 'Sidor', "en": 'Pages'},
    "pg_net": {"sv": 'Netto', "en": 'Net'},
    "pg_no_batches": {"sv": 'Inga leveranser ännu.', "en": 'No batches yet.'},
    "pg_no_contract": {"sv": 'Det finns inget avtal {contract!r} som du har tillgång till.', "en": 'There is no contract {contract!r} that you have access to.'},
    "pg_no_contracts": {"sv": 'Du har inte tillgång till något avtal.', "en": 'You have access to no contract.'},
    "pg_no_forecast": {"sv": 'Ingen prognos: ingen utvärdering som duger för betalning ännu.', "en": 'No forecast: no evaluation fit for payment yet.'},
    "pg_no_investment": {"sv": 'Avtalet har ingen investering.', "en": 'The contract has no investment.'},
    "pg_no_pages": {"sv": 'Rollen {role} har inga webbsidor; använd API:t.', "en": 'The {role} role has no web pages; use the API.'},
    "pg_no_refused": {"sv": 'Ingen leverans har avvisats.', "en": 'No delivery has been refused.'},
    "pg_no_results": {"sv": 'Inga resultat ännu: avtalet har inte utvärderats.', "en": 'No results yet: the contract has not been evaluated.'},
    "pg_no_run": {"sv": 'ingen utvärdering ännu', "en": 'not evaluated yet'},
    "pg_no_target": {"sv": 'inget mål', "en": 'no target'},
    "pg_not_verified": {"sv": 'ej verifierad', "en": 'not verified'},
    "pg_off_track": {"sv": 'under målet', "en": 'off track'},
    "pg_on_track": {"sv": 'når målet', "en": 'on track'},
    "pg_one_point": {"sv": 'en mätpunkt', "en": 'one point so far'},
    "pg_outcomes": {"sv": 'Utfall mot mål', "en": 'Outcomes against target'},
    "pg_pages": {"sv": 'Sidor', "en": 'Pages'},
    "pg_payments": {"sv": 'Betalningar', "en": 'Payments'},
    "pg_per_period": {"sv": 'Per period och betalare', "en": 'Per period and payer'},
    "pg_problem": {"sv": 'Problem', "en": 'Problem'},
    "pg_reason_needed": {"sv": 'Post {entry} avvisades inte: skriv skälet.', "en": 'Entry {entry} was not rejected: give the reason.'},
    "pg_quiet": {"sv": "{n} perioder utan belopp eller prognos visas inte här; nedladdningarna har alla.", "en": "{n} periods without amounts or forecast are not shown here; the downloads have them all."},
    "pg_received": {"sv": 'Mottaget', "en": 'Received'},
    "pg_refused": {"sv": 'Avvisade leveranser', "en": 'Refused deliveries'},
    "pg_reject": {"sv": 'Avvisa', "en": 'Reject'},
    "pg_returns": {"sv": 'Avkastning', "en": 'Returns'},
    "pg_returns_note": {"sv": 'Utifrån huvudbokens beslutade belopp (allt som inte avvisats), daterade vid periodens slut, genom avtalets vattenfall.', "en": "From the ledger's committed amounts (everything not rejected), dated at the end of their period, through the contract's waterfall."},
    "pg_row": {"sv": 'Rad', "en": 'Row'},
    "pg_rows": {"sv": 'Rader', "en": 'Rows'},
    "pg_runs": {"sv": 'Utvärderingskörningar', "en": 'Evaluation runs'},
    "pg_schedule": {"sv": 'Betalningsplan', "en": 'Repayment schedule'},
    "pg_schedule_intro": {"sv": 'Betalningsplanen per period och betalare: beslutat (alla belopp som inte avvisats), prognos, godkänt, fakturerat och betalt.', "en": 'The repayment schedule per period and payer: committed (every amount not rejected), forecast, approved, invoiced and paid.'},
    "pg_skip": {"sv": 'Hoppa till innehållet', "en": 'Skip to content'},
    "pg_suppressed": {"sv": 'dolt (få personer)', "en": 'suppressed (few people)'},
    "pg_suppressed_basis": {"sv": 'underlaget dolt: det räknar för få personer', "en": 'basis hidden: it counts too few people'},
    "pg_suppression_note": {"sv": 'Värden för grupper med färre än {k} personer visas inte, inte heller värden som de kunde räknas fram ur.', "en": 'Values for groups of fewer than {k} people are not shown, nor values they could be worked out from.'},
    "pg_target": {"sv": 'Mål', "en": 'Target'},
    "pg_token": {"sv": 'Nyckel (token)', "en": 'Token'},
    "pg_trend": {"sv": 'Utveckling', "en": 'Trend'},
    "pg_trend_label": {"sv": '{metric}: från {first} till {last} över {n} utvärderingar', "en": '{metric}: from {first} to {last} over {n} evaluations'},
    "pg_value": {"sv": 'Värde', "en": 'Value'},
    "pg_verified": {"sv": 'Verifierad', "en": 'Verified'},
    "pg_verified_only": {"sv": 'verifierade data', "en": 'verified data'},
    "pg_work": {"sv": 'Intermediärens arbete', "en": 'Intermediary work'},
    "pg_market": {"sv": 'Marknadspriser (INDIGO)', "en": 'Market prices (INDIGO)'},
    "pg_market_intro": {"sv": 'Offentliga utfallskontrakt med liknande politikområde och utfallsmått, och vad de betalade per utfall. Sektor enligt avtalets ord: {sectors}.', "en": 'Public impact bonds with a similar policy sector and outcome definitions, and what they paid per outcome. Sector from the contract\'s words: {sectors}.'},
    "pg_market_none": {"sv": 'Inga INDIGO-projekt i databasen ännu (sib indigo import KATALOG).', "en": 'No INDIGO projects in the store yet (sib indigo import DIR).'},
    "pg_market_project": {"sv": 'Projekt', "en": 'Project'},
    "pg_market_country": {"sv": 'Land', "en": 'Country'},
    "pg_market_sector": {"sv": 'Politikområde', "en": 'Policy sector'},
    "pg_market_outcome": {"sv": 'Deras utfallsmått', "en": 'Their outcome'},
    "pg_market_price": {"sv": 'Pris per utfall', "en": 'Price per outcome'},
    "pg_market_price_usd": {"sv": 'Pris i USD (enligt INDIGO)', "en": 'Price in USD (as INDIGO gives it)'},
    "pg_market_cap": {"sv": 'Högsta utfallsbetalning', "en": 'Maximum outcome payment'},
    "pg_market_ours": {"sv": 'Vårt mått och pris', "en": 'Our metric and price'},
    "pg_work_intro": {"sv": 'Leveranser och deras fel, utvärderingskörningar och huvudboken.', "en": 'Batches and their errors, evaluation runs and the ledger.'},
}

# Words the contract and the ledger use as values (designs, kinds, statuses); shown through ``label``.
LABELS: dict[str, dict[str, str]] = {
    "monitoring": {"sv": "uppföljning", "en": "monitoring"},
    "fixed_baseline": {"sv": "fast jämförelsenivå", "en": "fixed baseline"},
    "pre_post": {"sv": "före-efter", "en": "pre-post"},
    "historical_cohort": {"sv": "historisk kohort", "en": "historical cohort"},
    "randomised": {"sv": "randomiserad", "en": "randomised"},
    "matched_comparison": {"sv": "matchad jämförelse", "en": "matched comparison"},
    "difference_in_differences": {"sv": "skillnad-i-skillnader", "en": "difference-in-differences"},
    "payer": {"sv": "betalare", "en": "payer"}, "investor": {"sv": "investerare", "en": "investor"},
    "provider": {"sv": "utförare", "en": "provider"}, "intermediary": {"sv": "intermediär", "en": "intermediary"},
    "binary": {"sv": "ja/nej", "en": "binary"}, "rate": {"sv": "andel", "en": "rate"},
    "count": {"sv": "antal", "en": "count"}, "continuous": {"sv": "kontinuerlig", "en": "continuous"},
    "ordinal": {"sv": "ordinal", "en": "ordinal"}, "time_to_event": {"sv": "tid till händelse", "en": "time to event"},
    "mean": {"sv": "medelvärde", "en": "mean"}, "sum": {"sv": "summa", "en": "sum"}, "first": {"sv": "första", "en": "first"},
    "last": {"sv": "sista", "en": "last"}, "min": {"sv": "minsta", "en": "min"}, "max": {"sv": "största", "en": "max"},
    "any": {"sv": "någon", "en": "any"},
    "exclude": {"sv": "utesluts", "en": "excluded"}, "not_achieved": {"sv": "räknas som ej uppnått", "en": "not achieved"},
    "zero": {"sv": "räknas som noll", "en": "zero"},
    "rate_card": {"sv": "prislista", "en": "rate card"}, "comparison_threshold": {"sv": "tröskel mot jämförelse", "en": "comparison threshold"},
    "savings_share": {"sv": "besparingsdelning", "en": "savings share"}, "milestone": {"sv": "delmål", "en": "milestone"},
    "calculation": {"sv": "beräkning", "en": "calculation"}, "adjustment": {"sv": "justering", "en": "adjustment"},
    "calculated": {"sv": "beräknad", "en": "calculated"}, "approved": {"sv": "godkänd", "en": "approved"},
    "invoiced": {"sv": "fakturerad", "en": "invoiced"}, "paid": {"sv": "betald", "en": "paid"},
    "rejected": {"sv": "avvisad", "en": "rejected"},
    "monthly": {"sv": "månadsvis", "en": "monthly"}, "quarterly": {"sv": "kvartalsvis", "en": "quarterly"},
    "half_yearly": {"sv": "halvårsvis", "en": "half-yearly"}, "yearly": {"sv": "årsvis", "en": "yearly"},
    "equals": {"sv": "är", "en": "equals"}, "in": {"sv": "är en av", "en": "is one of"},
    "between": {"sv": "mellan", "en": "between"}, "at_least": {"sv": "minst", "en": "at least"},
    "at_most": {"sv": "högst", "en": "at most"},
    "treatment": {"sv": "i insatsen", "en": "in the intervention"}, "comparison": {"sv": "i jämförelsegruppen", "en": "in the comparison group"},
    "control": {"sv": "i kontrollgruppen", "en": "in the control group"},
}


DESIGNS = {
    "monitoring": {"sv": "Uppföljning: kohortens medelvärde med konfidensintervall. Det finns ingen jämförelse, så siffran beskriver deltagarna och redovisas aldrig som en effekt.",
                   "en": "Monitoring: the cohort's mean with its confidence interval. There is no counterfactual, so the figure describes the participants and is never reported as an effect."},
    "fixed_baseline": {"sv": "Fast jämförelsenivå: kohortens medelvärde mot den nivå som står i avtalet. Andelar prövas med exakt binomialtest och Wilsonintervall; övriga utfall med t-test. Jämförelsenivån är ett antagande i avtalet, inte en observerad jämförelsegrupp.",
                       "en": "Fixed baseline: the cohort's mean against the reference value written into the contract. Proportions use an exact binomial test with a Wilson interval; other outcomes a one-sample t-test. The baseline is an assumption of the contract, not an observed comparison group."},
    "pre_post": {"sv": "Före-efter: samma deltagare efter mot före (parat t-test). Förändringen innehåller också allt annat som förändrats under perioden.",
                 "en": "Pre-post: the same participants after against before (paired t-test). The change also contains whatever else changed over the period."},
    "historical_cohort": {"sv": "Historisk kohort: kohorten mot en tidigare kohort (Welchs t-test).",
                          "en": "Historical cohort: the cohort against an earlier cohort (Welch's two-sample t-test)."},
    "randomised": {"sv": "Randomiserad: insatsgrupp mot kontrollgrupp (Welchs t-test); med bakgrundsvariabler justeras skattningen med OLS och HC2-standardfel (Lin 2013).",
                   "en": "Randomised: treatment arm against control arm (Welch's two-sample t-test); with covariates, the treatment coefficient of an OLS regression on them, with HC2 standard errors (Lin, 2013)."},
    "matched_comparison": {"sv": "Matchad jämförelse: en benägenhetspoäng (logistisk regression) på avtalets bakgrundsvariabler; varje deltagare matchas mot närmaste personer i jämförelsepoolen på poängens logit inom en caliper, exakt på angivna kategorier och på kohorten; deltagare utanför poolens gemensamma stöd tas bort. Standardfel enligt Abadie och Imbens (2006), som tar hänsyn till att personer i poolen används flera gånger.",
                           "en": "Matched comparison: a propensity score (logistic regression) on the contract's covariates; each participant matched to the nearest pool members on the logit of the score within a caliper, exactly on the stated categorical covariates and on the cohort (period); treated participants outside the pool's common support trimmed. Standard errors by Abadie and Imbens (2006), which account for pool members used more than once."},
    "difference_in_differences": {"sv": "Skillnad-i-skillnader: deltagare och jämförelseenheter över perioder räknade från var och ens start; tvåvägs fixa effekter (enhet och period) med OLS på avvikelser inom enhet, standardfel klustrade per enhet; en händelsestudie prövar att grupperna följdes åt före starten.",
                                  "en": "Difference-in-differences: treated and comparison units over periods counted from each unit's start; two-way fixed effects (unit and period) by OLS on within-unit deviations, standard errors clustered by unit; an event study tests that treated and comparison units moved in parallel before the start."},
}


def t(key: str, lang: str, **values: Any) -> str:
    text = WORDS[key][lang]
    return text.format(**values) if values else text


def label(value: str | None, lang: str) -> str:
    """A contract or ledger value in words; values without a translation are shown as written."""
    if value is None:
        return ""
    return LABELS.get(value, {}).get(lang, value.replace("_", " "))


def default_language(currency: str) -> str:
    return "sv" if currency == "SEK" else "en"


def _group(integer: str, separator: str) -> str:
    out = []
    while len(integer) > 3:
        out.insert(0, integer[-3:])
        integer = integer[:-3]
    out.insert(0, integer)
    return separator.join(out)


def number(value: float | Decimal | str | None, lang: str, digits: int | None = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):  # amounts and targets travel as exact text
        value = Decimal(value)
    if digits is None:
        size = abs(float(value))
        digits = 1 if size >= 100 else 2 if size >= 1 else 3
    text = f"{abs(value):.{digits}f}"
    whole, _, fraction = text.partition(".")
    grouped = _group(whole, NBSP if lang == "sv" else ",")
    sign = "−" if value < 0 and float(text) != 0 else ""
    return sign + grouped + ((("," if lang == "sv" else ".") + fraction) if fraction else "")


def money(amount: Decimal | str | None, currency: str, lang: str) -> str:
    """1 234 567,89 kr (sv, SEK), 1 234 567,89 GBP (sv), SEK 1,234,567.89 (en)."""
    if amount is None:
        return "—"
    value = round_money(Decimal(amount), currency)  # display only: ledger amounts are already rounded
    places = max(0, -quantum(currency).as_tuple().exponent)
    text = number(value, lang, places)
    if lang == "sv":
        return f"{text}{NBSP}{'kr' if currency == 'SEK' else currency}"
    return f"{currency}{NBSP}{text}"


def percent(share: float | Decimal | None, lang: str, digits: int = 1, signed: bool = True) -> str:
    if share is None:
        return "—"
    value = float(share) * 100
    text = number(abs(value), lang, digits)
    sign = ("+" if value > 0 else "−" if value < 0 else "") if signed else ("−" if value < 0 else "")
    return f"{sign}{text}{NBSP}%"


def p_value(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    return ("< 0,001" if lang == "sv" else "< 0.001") if value < 0.001 else number(value, lang, 3)
