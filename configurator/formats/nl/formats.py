"""Dutch: day-month-year as the Netherlands writes it, 24-hour time; Django's separators for numbers."""

SHORT_DATE_FORMAT = "j-n-Y"
SHORT_DATETIME_FORMAT = "j-n-Y H:i"
DATETIME_FORMAT = "j-n-Y H:i:s"
DATE_FORMAT = "j M Y"
MONTH_DAY_FORMAT = "j M"
