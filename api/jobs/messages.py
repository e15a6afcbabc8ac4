"""What a job says when it cannot give its result (stored with the job, shown in the reader's language)."""

from language import N_, Texts

TEXTS = Texts("jobs", {
    "abandoned": N_("the job was given up: its worker stopped {attempts} times while doing it (look at the "
                    "worker's log; a job that needs more memory than the machine has stops its worker)"),
    "crashed": N_("the job failed on an unexpected error ({error}); the worker's log has the details"),
    "unknown_run": N_("there is no evaluation run {run} of this contract"),
})
