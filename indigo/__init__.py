"""The INDIGO data standard of the Government Outcomes Lab: import its public impact bond dataset as
reference projects, export our contracts as INDIGO project documents, and price contracts against the market.

INDIGO data is open data from the Government Outcomes Lab, University of Oxford; ``CREDIT`` is shown
wherever it is.
"""

from language import N_

# In pages and reports it is shown in the reader's language; the source's name stays as it is.
CREDIT = N_("INDIGO data: Government Outcomes Lab, University of Oxford (open data)")
