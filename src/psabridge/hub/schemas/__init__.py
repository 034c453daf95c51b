"""Pydantic schemas of the billing hub: separate create / update / public shapes per record, plus the
import row shapes (which reference other records by external id instead of database id).

Field rules live here once; the service layer adds the rules that need the database (references,
tenancy, quantities). ``extra="forbid"`` makes a misspelt or read-only field an error that names it.

One module a group of records, each importing its names from where they are defined:
:mod:`~psabridge.hub.schemas.boundary` (the input/output bases and the text, date and size rules every
input crosses), :mod:`~psabridge.hub.schemas.accounts` (accounts and contacts),
:mod:`~psabridge.hub.schemas.products`, :mod:`~psabridge.hub.schemas.contracts` (billing contracts,
subscriptions, license change logs), :mod:`~psabridge.hub.schemas.organizations` and
:mod:`~psabridge.hub.schemas.results` (answers that are not a record: mismatches, import results, pages).
"""
