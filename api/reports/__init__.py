"""The independent evaluation report (``report``: gathered, rendered to HTML, written as PDF) and its charts."""
