"""Jobs: long work asked for on a page, done by a worker process (``sib worker``), its state in the store.

| module | holds |
|---|---|
| ``queue`` | the queue in the store: enqueue, claim (FOR UPDATE SKIP LOCKED on PostgreSQL), lease, progress, finish |
| ``work`` | what each kind of job does: evaluate, calculate payments, write the report or the board summary |
| ``worker`` | the loop ``sib worker`` runs: claim, do, renew the lease while working, record the result |

Exactly one result per job: a worker that is killed leaves its job ``running`` with a lease that runs out, and
the next worker claims it again.  Evaluations and payment calculations are idempotent in the engine itself (the
same inputs give the stored run again; only what the ledger does not hold yet is appended), and a document is
kept in the job's row in the same transaction that marks it done, so a job done twice still yields one result.
Uploads are not jobs: a delivered file holds clear identity numbers, which are never stored, so it is checked
and pseudonymised in the request (in a child process with a time budget, as the API does).
"""
