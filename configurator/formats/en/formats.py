"""English: ISO-like dates in tables and logs (sorting and reading across countries)."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATETIME_FORMAT = "Y-m-d H:i:s"
DATE_FORMAT = "j M Y"
MONTH_DAY_FORMAT = "j M"
