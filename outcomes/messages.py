"""What ingestion says to whoever delivered a file: why a row, a file or a key is refused, and notes.

Every refusal is a code and its parameters (``RowError.message``), reported in the reader's language and
stored as such in the audit log of refused deliveries.  A parameter never holds a clear personal identity
number: references are masked before they reach a message (``personnummer.mask``).
"""

from language import N_, Texts

TEXTS = Texts("outcomes", {
    # the header and the cells
    "required_column": N_("required column is missing; the file has columns: {columns}"),
    "required_column_none": N_("required column is missing; the file has columns: none"),
    "unknown_column": N_("unknown column; expected columns: {expected}"),
    "cell_too_long": N_("cell is {n} characters long; the limit is {limit}"),
    "formula": N_("begins with {first:q}, which a spreadsheet would run as a formula; refused"),
    "no_rows": N_("the file has a header but no rows"),
    # who the row is about
    "id_empty": N_("participant_id is empty"),
    "unknown_participant": N_("unknown participant; register them with a participants file first"),
    "not_a_provider": N_("'{value}' is not a provider of this contract; its providers: {providers}"),
    "another_provider": N_("'{value}' is another provider: {provider} enrols only its own participants"),
    "not_enrolled": N_("participant is not enrolled; enrol them before sending measurements"),
    "duplicate_participant": N_("the same participant appears again (first in row {row})"),
    "already_registered": N_("this participant is already registered for the contract (in an earlier batch)"),
    "not_eligible": N_("not eligible: {value:q} fails the rule '{rule}'"),
    "not_eligible_missing": N_("not eligible: missing value fails the rule '{rule}'"),
    "rule_between": N_("{attribute} between {low} and {high}"),
    "rule_in": N_("{attribute} in {values}"),
    "rule_op": N_("{attribute} {op} {value}"),
    # personal identity numbers
    "pnr_form": N_("not a personal identity number; expected YYYYMMDD-NNNN, YYMMDD-NNNN or YYMMDD+NNNN"),
    "pnr_plus": N_("a twelve-digit number takes '-' or no separator, not '+'"),
    "pnr_date": N_("the date part is not a real date (checked as a personnummer)"),
    "snr_date": N_("the date part is not a real date (checked as a samordningsnummer)"),
    "pnr_future": N_("the date part lies in the future"),
    "pnr_luhn": N_("the check digit is wrong (Luhn)"),
    # values
    "not_a_date": N_("{value:q} is not a date; expected YYYY-MM-DD or YYYYMMDD"),
    "not_a_date_format": N_("{value:q} is not a date; expected the mapping's format {format}"),
    "start_empty": N_("start date is empty"),
    "outside_term": N_("{date} is outside the contract term {start} to {end}"),
    "in_future": N_("{date} is in the future"),
    "exit_before_start": N_("{date} is before the start {start}"),
    "not_allowed": N_("{value:q} is not allowed; expected one of: {allowed}"),
    "not_boolean": N_("{value:q} is not allowed; expected true or false"),
    "not_a_cohort": N_("{value:q} is not a cohort; cohorts: {cohorts}"),
    "outside_cohort_window": N_("start {date} is outside the enrolment window of {cohort:q} ({start} to {end})"),
    "outside_every_window": N_("{date} is outside every cohort's enrolment window"),
    "not_a_number": N_("{value:q} is not a number"),
    "not_whole": N_("{value:q} is not a whole number"),
    "number_ambiguous": N_("{value:q} could be a number with a thousands separator or with a decimal mark; declare "
                           "decimal (and thousands) in the mapping to read it"),
    "number_thousands": N_("{value:q} has a thousands separator; declare thousands (and decimal) in the mapping to "
                           "read it"),
    "number_form": N_("{value:q} is not a number in the mapping's form (decimal {decimal}, thousands {thousands:q})"),
    "number_range": N_("{value:q} is out of range for a number (it would be read as infinity or as 0)"),
    "not_a_metric": N_("{value:q} is not a metric of this contract; metrics: {metrics}"),
    "after_term": N_("{date} is after the contract term ends ({end})"),
    "value_empty": N_("value is empty"),
    "binary_value": N_("{value:q} is not allowed for binary metric {metric:q}; expected 0 or 1"),
    "rate_percent": N_("{value:q} is out of range for rate metric {metric:q}; expected a percentage between 0 and "
                       "100"),
    "rate_share": N_("{value:q} is out of range for rate metric {metric:q}; expected a share between 0 and 1 (or "
                     "declare percent in a mapping)"),
    "count_value": N_("{value:q} is not allowed for {kind} metric {metric:q}; expected a whole number of at least 0"),
    "scale": N_("{value:q} is not on the scale of {metric:q}; expected {low} to {high}"),
    "scale_dont_know": N_("{value:q} is not on the scale of {metric:q}; expected {low} to {high}, or {codes} for "
                          "don't know"),
    "outside_window": N_("{date} is outside the window of {metric:q} for this participant ({from_months} to "
                         "{to_months} months after enrolment: {low} to {high})"),
    "before_enrolment": N_("{date} is before any window of {metric:q} can begin for this participant (the "
                           "earliest is {low})"),
    "already_stored": N_("a measurement of {metric:q} for this participant on {date} is already stored (batch "
                         "{batch}); to replace it, send it with correction = true"),
    "nothing_to_correct": N_("nothing to correct: no stored measurement of {metric:q} for this participant on "
                             "{date}"),
    "duplicate_row": N_("duplicate of row {row} (same participant, metric and date)"),
    "conflicting_row": N_("conflicts with row {row}: same participant, metric and date, other value"),
    # survey answers
    "no_answer_columns": N_("no answer columns; expected one or more of: {expected}"),
    "no_survey_questions": N_("no answer columns; expected one or more of: none (the contract has no survey "
                              "questions)"),
    "mixed_anonymous": N_("anonymous and named questions cannot share a file; send them separately"),
    "anonymous_linked": N_("these questions are answered anonymously; the file must not link answers to "
                           "participants"),
    "refers_to_missing": N_("required column is missing: change questions need the period the answer refers to "
                            "({periods})"),
    "answered_twice": N_("the same participant answered on the same date in row {row}"),
    # the follow-up's fieldwork (outcomes.fieldwork)
    "frame_date": N_("not a date; write YYYY-MM-DD"),
    "frame_no_person": N_("no reference to the person (a personal identity number or a case number)"),
    "frame_end_before": N_("the decision ends before it starts"),
    "frame_no_unit": N_("the participant has no 'unit' attribute, so cannot be placed in a unit's frame"),
    "frame_unknown_unit": N_("{unit:q} is not a unit of organisation {organisation} in {year}"),
    "no_frame": N_("no sampling frame {frame}; 'sib survey frame' builds one"),
    "no_draw": N_("no draw {draw}; 'sib survey draw' makes one"),
    "contact_not_sampled": N_("this person was not drawn in draw {draw}; the contact log holds sampled people only"),
    "contact_attempt": N_("the attempt must be a whole number from 1"),
    "contact_year": N_("the contact is not in the follow-up year {year}"),
    "contact_repeated": N_("this attempt is already in the log for this person"),
    "contact_phone_limit": N_("at most {n} phone attempts per person (the follow-up's rule)"),
    "contact_after_answer": N_("an attempt after the person had already answered"),
    "age_band": N_("{value:q} is not an age band; write e.g. 18-24 or 65+"),
    "survey_sex": N_("{value:q} is not a sex the follow-up reports; write k (kvinna) or m (man)"),
    "asked_when_improved": N_("{metric:q} is asked only when {shown} shows improvement ({codes}); leave it blank "
                              "otherwise"),
    # reading the file
    "no_file": N_("no such file: {path}"),
    "is_directory": N_("{path} is a directory, not a data file"),
    "empty_file": N_("{file} is empty"),
    "utf16_or_binary": N_("{file} is not text in UTF-8 or Windows-1252 (it looks like UTF-16 or binary); save it as "
                          "CSV UTF-8"),
    "not_text": N_("{file} is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"),
    "bare_cr": N_("{file}: its lines end with a bare carriage return (an old Mac format); save it as CSV UTF-8"),
    "bad_header": N_("{file}: the header line cannot be read as CSV ({reason})"),
    "empty_column_name": N_("{file}: the header has an empty column name (column {column})"),
    "column_twice": N_("{file}: column {column:q} appears twice in the header"),
    "line_too_long": N_("{file} has a line of {n} bytes; the limit is {limit}"),
    "not_csv": N_("{file} is not a readable CSV table: {reason}"),
    "csv_block": N_("a line is longer than the reader's block"),
    "csv_unparsable": N_("it could not be parsed"),
    "fields": N_("expected {expected} fields, found {found}"),
    "fields_quote": N_("expected {expected} fields, found {found} (an unclosed quote?)"),
    "not_xlsx": N_("{file} is not a readable .xlsx workbook: {reason}"),
    "no_sheet": N_("{file} has no sheet {sheet:q}; sheets: {sheets}"),
    "empty_sheet": N_("{file} has an empty first sheet"),
    "json_first_line": N_("{file}: line 1 is not valid JSON; expected one JSON object per line"),
    "json_first_object": N_("{file}: line 1 is not a JSON object; expected one object per line"),
    "json_line": N_("not valid JSON; expected one JSON object per line"),
    "json_object": N_("not a JSON object"),
    "json_field": N_("field {field:q} is not in the first line's fields: {fields}"),
    "json_nested": N_("a value is a list or an object; expected text or a number"),
    "json_not_utf8": N_("{file} is not UTF-8 text (JSON Lines must be UTF-8)"),
    "mapping_column": N_("{file}: the mapping names column {column:q}, which the file does not have; the file has: "
                         "{columns}"),
    "row_problem": N_("{file}: row {row}: {problem}"),
    "unreadable": N_("unreadable: {reason}"),
    "upload_too_slow": N_("{file} was not checked within {seconds} seconds, the limit for an upload; nothing was "
                          "stored: send it in smaller files, or have the intermediary run 'sib ingest'"),
    "windows_1252": N_("read as Windows-1252"),
    "not_regular": N_("{path} is not a regular file (a pipe, a device or a socket); give a data file"),
    "not_utf8_line": N_("{file}: line {line} is not UTF-8 text, as the mapping declares the file to be"),
    "mixed_encoding": N_("{file}: line {line} is not UTF-8, but other lines are; a file must be in one encoding: save "
                         "it as CSV UTF-8 (or declare encoding: cp1252 in the mapping if it is Windows-1252)"),
    "unclosed_quote": N_("a quote (\") on this line is never closed: the lines after it would be read as one cell"),
    "nul": N_("the cell contains a NUL character (binary data); refused"),
    "line_break": N_("the cell contains a line break: an unclosed quote? The rows after it would be read as its "
                     "text"),
    "xlsx_size": N_("{file} unpacks to {n} bytes; the limit is {limit} (send larger deliveries as CSV)"),
    "xlsx_rows": N_("{file} has a sheet of {n} rows; the limit is {limit}"),
    "xlsx_damaged": N_("{file} is a damaged .xlsx workbook: it cannot be read at row {row} ({reason})"),
    "xlsx_formula": N_("a formula cell: an .xlsx file is read as values; save the values, or declare formulas: "
                       "cached in the mapping to read the value Excel last saved"),
    "xlsx_formula_no_value": N_("a formula cell with no saved value: open and save the workbook in Excel, or save "
                                "the values"),
    "xlsx_formula_header": N_("{file}: the header row has a formula cell; column names must be text"),
    "json_key_twice": N_("key {key:q} appears twice in the object"),
    "json_key_twice_first": N_("{file}: line 1 has key {key:q} twice"),
    "json_too_deep": N_("nested deeper than {limit} levels; expected one flat object per line"),
    "json_too_deep_first": N_("{file}: line 1 is nested deeper than {limit} levels; expected one flat object per "
                              "line"),
    # whole files and batches
    "unknown_kind": N_("unknown kind {kind:q}; expected one of: {kinds}"),
    "refused": N_("{file} refused: {n} error; nothing was stored"),
    "refused_many": N_("{file} refused: {n} errors; nothing was stored"),
    "no_batch": N_("no batch {batch}; 'sib batches CONTRACT' lists them"),
    "already_verified": N_("batch {batch} is already verified (by {by})"),
    # the pseudonymisation key
    "key_exists": N_("a key already exists at {path}; replacing it would orphan every stored pseudonym"),
    "key_folder": N_("cannot create {path}: folder {folder} does not exist"),
    "no_key": N_("no pseudonymisation key at {path}; create one with 'sib keys init' (or set SIB_KEY_FILE)"),
    "key_damaged": N_("the key file {path} is damaged: expected 64 hexadecimal characters"),
})
