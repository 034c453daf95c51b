"""Importing billing records from CSV and JSON files: parse (``formats``), check (``checks``), write
(``runner``). A file is applied all-or-nothing in one transaction and re-importing it changes nothing."""
