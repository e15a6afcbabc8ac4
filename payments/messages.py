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
    # caps, as the trail names them
    "cap_reduced": N_("cap {cap} ({limit:money}) reduced it by {by:money}"),
    "cap_per_participant": N_("per participant"),
    "cap_per_cohort": N_("per cohort"),
    "cap_mechanism": N_("of the mechanism"),
    "cap_contract_total": N_("for the whole contract"),
    "cap_payer": N_("of outcome payer {of:party}"),
    "payer_share": N_("outcome payer's share {share:percent} of {amount:money}"),
    # forecast notes
    "forecast_pending": N_("{n} participant outcomes not yet observed are drawn from those observed in the same "
                           "cohort"),
    "forecast_no_irr": N_("in {none} of {simulations} simulations the investors receive nothing, so there is no "
                          "IRR; the quantiles are of the others"),
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
    # the hash chains
    "chain_entry_order": N_("expected entry {n} here, found entry {seq}"),
    "chain_entry_link": N_("entry {seq} does not follow the one before it"),
    "chain_entry_hash": N_("the content of entry {seq} does not match its hash"),
    "chain_step_order": N_("expected step {n} here, found step {seq}"),
    "chain_step_link": N_("step {seq} does not follow the one before it"),
    "chain_step_hash": N_("the content of step {seq} does not match its hash"),
})
