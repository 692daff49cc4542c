"""The range of a row id: every primary key is a PostgreSQL ``integer`` (SQLite's is wider).

A number outside it names no row. Anything that turns outside input into an id (a path parameter, a
token's subject) checks it against this range first: PostgreSQL refuses such a number outright.
"""

MIN_ROW_ID = 1
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    return MIN_ROW_ID <= value <= MAX_ROW_ID
