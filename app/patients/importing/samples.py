"""Patient import, sample values: what the first rows of each column of an uploaded file hold, shown in the
mapping step so the admin sees at a glance which column is which (a "Telefon" column holding emails, say)."""

from app.patients.importing.decode import ImportFileError, parse_csv

SAMPLE_BYTES = 64 * 1024


def column_samples(content, limit=3, rows=50):
    """The first ``limit`` distinct non-empty values of each column among the first ``rows`` rows of an uploaded
    file (header -> values, each shortened to 30 characters), shown beside the column mapping. Only the file's
    first SAMPLE_BYTES are read (cut at a line end), so a large file costs the page nothing; {} when that part
    cannot be read as a table or the file is no longer kept."""
    if not content:
        return {}
    head = content[:SAMPLE_BYTES]
    if len(content) > SAMPLE_BYTES and b"\n" in head:
        head = head[:head.rindex(b"\n") + 1]
    try:
        table = parse_csv(head)
    except ImportFileError:
        return {}
    samples = {header: [] for header in table.headers}
    for _number, cells in table.rows[:rows]:
        for header, cell in zip(table.headers, cells, strict=False):
            value = " ".join(cell.split())
            if len(value) > 30:
                value = value[:29] + "…"
            if value and value not in samples[header] and len(samples[header]) < limit:
                samples[header].append(value)
    return samples
