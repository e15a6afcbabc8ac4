"""What the payment rules say to their readers: calculation trails, caps, forecast notes and refusals.

A ledger entry's basis keeps its trail as a code and parameters (``basis["trail"]``; entries written before
then keep their English ``basis["explanation"]``), rendered in the reader's language where it is shown.
"""

from language import N_, Texts

TEXTS = Texts("payments", {
    # calculation trails
    "rate_card": N_("outcomes paid: {outcomes}; participants paid: {participants} (achieved: {achieved:list}); "
                    "at {prices:list} = {gross:money}"),
    "count_of": N_("{n} {metric:metric}"),
    "price_of": N_("{metric:metric} {price:money}"),
    "no_estimate": N_("no effect estimate: nothing due"),
    "threshold_below": N_("relative improvement {relative:percent} against threshold {threshold:percent}: below, "
                          "nothing due"),
    "threshold_not_significant": N_("relative improvement {relative:percent} against threshold {threshold:percent}, "
                                    "but not significant at {alpha}: nothing due"),
    "threshold_reached": N_("relative improvement {relative:percent} against threshold {threshold:percent}: reached; "
                            "{price:money} per unit × {improvement:exact} improvement × {participants} participants "
                            "= {amount:money}"),
    "all_cohorts": N_("all cohorts: {trail}"),
    "all_cohorts_less": N_("all cohorts: {trail}; less {paid:money} already due for the cohorts = {final:money}"),
    "savings": N_("savings {improvement:exact} per participant × {participants} participants × {unit:money} = "
                  "{savings:money}; repaid {repaid:money} one-for-one up to {upto:money}, plus {share:percent} × "
                  "{above:money} above it = {amount:money}"),
    # what a mechanism pays on (pays_on), around the trail above
    "pays_on_point_estimate": N_("paid on the point estimate: {trail}"),
    "pays_on_lower_bound": N_("paid on the end of the confidence interval least favourable to payment: improvement "
                              "{bound:exact} per participant (interval {low:exact} to {high:exact}, point estimate "
                              "{point:exact}), floored at zero: {used:exact}; {trail}"),
    "pays_on_no_interval": N_("paid on the lower bound of the confidence interval, but the result has none: "
                              "nothing due"),
    "pays_on_significant": N_("paid only if significant: p {p:p}, below {alpha:exact}; {trail}"),
    "pays_on_not_significant": N_("paid only if significant: p {p:p} is not below {alpha:exact}: nothing due"),
    "pays_on_no_p_value": N_("paid only if significant, but the result has no p-value: nothing due"),
    "pays_on_outcomes": N_("paid on every verified outcome, whatever the effect: {trail}"),
    "card_significant": N_("paid only for outcomes whose metric improved significantly in the cohort: "
                           "{checks:semicolons}; {trail}"),
    "card_metric_paid": N_("{metric:metric} improved by {improvement:exact} with p {p:p}, below {alpha:exact}: paid"),
    "card_metric_unpaid": N_("{metric:metric} changed by {improvement:exact} with p {p:p}, not a significant "
                             "improvement at {alpha:exact}: not paid"),
    "card_metric_no_result": N_("{metric:metric} has no effect estimate with a p-value: not paid"),
    # amounts beyond the maximum
    "amount_too_large": N_("{mechanism:mechanism} ({cohort:cohort}): the amount computed from the evaluation's "
                           "estimate of {metric:metric}, {amount}, would exceed the maximum of {limit:money}; nothing "
                           "was calculated: check that estimate"),
    # caps, as the trail names them
    "cap_reduced": N_("cap {cap} ({limit:money}) reduced it by {by:money}"),
    "cap_per_participant": N_("per participant"),
    "cap_per_cohort": N_("per cohort"),
    "cap_mechanism": N_("of the mechanism"),
    "cap_contract_total": N_("for the whole contract"),
    "cap_payer": N_("of outcome payer {of:party}"),
    "payer_share": N_("outcome payer's share {share:percent} of {amount:money}"),
    # forecast notes
    # the payer's business case (payments.valuation, payments.horizon)
    "valuation_no_estimate": N_("{metric:metric}: no effect estimate, so no avoided cost is valued"),
    "valuation_not_effect": N_("{metric:metric} is followed by {design}, which has no counterfactual: no avoided cost "
                               "is valued on it"),
    "valuation_none": N_("contract {contract} has no valuation section: name its cost file there (docs/"
                         "business-case.md)"),
    "valuation_costs_missing": N_("cost file {costs} is not loaded; load it with 'sib costs load FILE'"),
    "horizon_no_effect": N_("{metric:metric}: no planning effect (planning_effect, or target and baseline), so its "
                            "savings are not projected"),
    "horizon_per_outcome": N_("{mechanism}: pays per verified outcome, which cannot be projected from a planned mean "
                              "effect; its payments are left out of the horizon"),
    "forecast_pending": N_("{n} participant outcomes not yet observed are drawn from those observed in the same "
                           "cohort"),
    "forecast_nothing_back": N_("in {none} of {simulations} simulations nothing comes back to the investors: "
                                "their IRR is {irr:percent}, and the IRR quantiles include them"),
    "forecast_irr_undefined": N_("in {none} of {simulations} simulations the investors' cash flows have no IRR (all "
                                 "on one day); the IRR quantiles are of the others"),
    # refusals
    "run_other_contract": N_("evaluation run {run} belongs to contract '{of}', not '{contract}'"),
    "run_outdated": N_("evaluation run {run} used contract version {used}, but version {current} ({reason}) is in "
                       "effect on its as-of date {as_of:day}; evaluate again before paying"),
    "run_interim": N_("evaluation run {run} includes unverified measurements (an interim view); only verified "
                      "outcomes are paid"),
    "concurrent": N_("another payment calculation for '{contract}' kept being written at the same time; run it "
                     "again"),
    "not_a_step": N_("'{status}' is not a step; expected approved, invoiced, paid or rejected"),
    "reason_needed": N_("a rejection needs a reason (--reason)"),
    "no_entries": N_("no entries given"),
    "no_entry": N_("no entry {seq}"),
    "wrong_step": N_("entry {seq} is {now:label.status}; it can become {allowed:label.status}, not "
                     "{status:label.status}"),
    "final_step": N_("entry {seq} is {now:label.status}, which is final; it cannot become {status:label.status}"),
    "several": N_("{problems:semicolons}"),
    # duties kept apart (who may take a step)
    "no_party": N_("{who} is a payer user bound to no paying party; add a user with --party to act on entries"),
    "other_party": N_("entry {seq} is owed by {payer:party}; {who} acts for {party:party} only"),
    "same_person": N_("entry {seq} was approved by {who}, who cannot also mark it paid; another person must"),
    "second_approver": N_("entry {seq} ({amount:money}) is above {limit:money} and needs a second approver; {who} "
                          "attested it already"),
    "unauthenticated": N_("a ledger step needs an authenticated user: give a user token (--token or SIB_TOKEN)"),
    # evidence at the point of approval
    "flagged": N_("entry {seq} is flagged: {flags:semicolons}; to approve it anyway, acknowledge {codes:list} and "
                  "give the reason"),
    "flag_no_counterfactual": N_("{metric:metric} ({cohort:cohort}) rests on a design without a comparison "
                                 "({design:label.design}): no effect is measured"),
    "flag_ci_includes_zero": N_("the effect on {metric:metric} ({cohort:cohort}) is not distinguishable from zero "
                                "(95 % CI {low:sig} to {high:sig})"),
    "flag_wrong_sign": N_("the effect on {metric:metric} ({cohort:cohort}) goes the wrong way (estimate {estimate:sig})"),
    "flag_missing_rule_share": N_("{n} of {total} participants ({share:percent}) on {metric:metric} are counted by "
                                  "the missing-data rule, more than the contract's {limit:percent}"),
    "flag_no_result": N_("no result for {metric:metric} ({cohort:cohort}) in evaluation run {run}"),
    # amendments
    "retroactive_settlement": N_("retroactive settlement of contract version {version} ({reason}), effective "
                                 "{effective:day}"),
    # the hash chains
    "chain_entry_order": N_("expected entry {n} here, found entry {seq}"),
    "chain_entry_link": N_("entry {seq} does not follow the one before it"),
    "chain_entry_hash": N_("the content of entry {seq} does not match its hash"),
    "chain_step_order": N_("expected step {n} here, found step {seq}"),
    "chain_step_link": N_("step {seq} does not follow the one before it"),
    "chain_step_hash": N_("the content of step {seq} does not match its hash"),
    "chain_entry_seal": N_("entry {seq} does not carry the ledger's seal: it was written or changed without the key"),
    "chain_step_seal": N_("step {seq} does not carry the ledger's seal: it was written or changed without the key"),
    "chain_entry_unsealed": N_("entry {seq} carries no seal: it was written without the key, or before sealing began "
                               "(schema 0007); once checked, 'sib ledger seal-legacy' seals rows from before"),
    "chain_step_unsealed": N_("step {seq} carries no seal: it was written without the key, or before sealing began "
                              "(schema 0007); once checked, 'sib ledger seal-legacy' seals rows from before"),
    "audit_seal": N_("audit event {id} does not carry the seal: it was written or changed without the key"),
    "audit_unsealed": N_("audit event {id} carries no seal: it was written without the key, or before the store had "
                         "one; once checked, 'sib ledger seal-legacy' seals events from before"),
    "checkpoint_seal": N_("the checkpoint file does not carry a valid seal: it was changed, is not a checkpoint, or "
                          "was sealed with another key"),
    "checkpoint_contract": N_("the checkpoint is of contract '{of}', not '{contract}'"),
    "checkpoint_entry_missing": N_("the checkpoint saw {count} entries up to entry {seq}; entry {seq} is gone "
                                   "(the ledger now has {now})"),
    "checkpoint_entry_changed": N_("entry {seq} is not the entry the checkpoint saw: the chain was rewritten"),
    "checkpoint_step_missing": N_("the checkpoint saw {count} steps up to step {seq}; step {seq} is gone (the "
                                  "ledger now has {now})"),
    "checkpoint_step_changed": N_("step {seq} is not the step the checkpoint saw: the chain was rewritten"),
    "checkpoint_audit": N_("the audit events up to event {last} are not those the checkpoint saw ({count} then, "
                           "{now} now): events were deleted, changed or moved"),
    # the payer's annual accounts at a balance date (payments/accounts.py; RKR R9, see docs/payments.md)
    "accounts_paid": N_("paid by {day:day}: entries {entries:list}"),
    "accounts_paid_none": N_("nothing paid by {day:day}"),
    "accounts_liability": N_("approved or invoiced by {day:day} and not paid by then: entries {entries:list}"),
    "accounts_liability_none": N_("no entry approved or invoiced and unpaid on {day:day}"),
    "accounts_calculated": N_("calculated and awaiting approval on {day:day}: {amount:money} (entries "
                              "{entries:list})"),
    "accounts_calculated_none": N_("no calculated entry awaiting approval on {day:day}"),
    "accounts_no_forecast": N_("no forecast (no evaluation run that may be paid to forecast from): no provision "
                               "beyond the calculated entries"),
    "accounts_estimate_expected": N_("expected value"),
    "accounts_estimate_expected_share": N_("share {share:percent} of the expected total"),
    "accounts_estimate_p50": N_("median (P50; the forecast gives no expected value)"),
    "accounts_forecast_added": N_("plus the forecast: {estimate} {amount:money} less {booked:money} booked = "
                                  "{further:money}; a further payment is more likely than not (P50 {p50:money} "
                                  "above what is booked, probability of any payment {probability:percent})"),
    "accounts_forecast_improbable": N_("no forecast amount: a further payment is not more likely than not (P50 "
                                       "{p50:money} against {booked:money} booked, probability of any payment "
                                       "{probability:percent})"),
    "accounts_forecast_nothing_more": N_("no forecast amount: the forecast's {estimate} {amount:money} is not above "
                                         "the {booked:money} booked"),
    "accounts_cap_payer": N_("the cap of outcome payer {payer:party}"),
    "accounts_cap_share_total": N_("share {share:percent} of the contract's total cap {cap:money}"),
    "accounts_cap_share_mechanisms": N_("share {share:percent} of the mechanisms' caps together, {cap:money}"),
    "accounts_contingent": N_("cap {cap:money} ({source}) less paid {paid:money}, liability {liability:money} and "
                              "provision {provision:money} = {rest:money}"),
    "accounts_contingent_none": N_("cap {cap:money} ({source}) is used up by paid {paid:money}, liability "
                                   "{liability:money} and provision {provision:money}: nothing left"),
    "accounts_no_cap": N_("no cap in the contract bounds what outcome payer {payer:party} may have to pay: the "
                          "contingent liability has no upper limit; describe it in words"),
    "accounts_sum": N_("sum over the outcome payers"),
    "accounts_total_no_cap": N_("no total: the contingent liability of at least one outcome payer has no upper "
                                "limit"),
    "accounts_before_term": N_("the balance date {day:day} is before the contract's term starts on {start:day}: "
                               "nothing can be owed yet"),
    "accounts_later_entries": N_("entries created after {day:day} are left out: {entries:list}"),
    "accounts_later_steps": N_("steps taken after {day:day} are left out: {n}"),
    "accounts_forecast_after": N_("no forecast amount: evaluation run {run} is as of {as_of:day}, after the balance "
                                  "date, and counts participants enrolled since; evaluate as of {day:day} for a "
                                  "forecast of the performance delivered by then"),
    "accounts_nominal": N_("amounts are nominal, not discounted to present value"),
    # SIE 4 export (payments/sie.py): the account mapping file
    "sie_accounts_unreadable": N_("cannot read the account mapping {path}: {reason}"),
    "sie_accounts_yaml": N_("{path}, line {line}: not YAML: {problem}"),
    "sie_accounts_shape": N_("{path}: an account mapping names the expense, liability and bank accounts "
                             "(and may give by_mechanism, names and series)"),
    "sie_accounts_missing": N_("{path}: the {key} account is missing; expense, liability and bank are required"),
    "sie_accounts_unknown": N_("{path}, line {line}: unknown key {key:q}; expected expense, liability, bank, "
                               "by_mechanism, names or series"),
    "sie_accounts_duplicate": N_("{path}, line {line}: {key:q} is given twice"),
    "sie_accounts_mapping": N_("{path}, line {line}: {key} must list one account per line"),
    "sie_bad_account": N_("{path}, line {line}: {key} {value:q} is not an account number (1 to 10 digits)"),
    "sie_bad_series": N_("{path}, line {line}: series {value:q} is not a voucher series (1 to 10 letters or digits)"),
    "sie_bad_name": N_("{path}, line {line}: the name of account {account} must be text on one line"),
    "sie_same_account": N_("{path}: account {account} is given both as {first} and as {second}; each needs its own"),
    "sie_minor_unit": N_("SIE amounts have at most two decimals, but {currency} has {digits}"),
})
