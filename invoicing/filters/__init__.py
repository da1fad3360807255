"""django-filter FilterSets for the office lists (office.views.lists) and their CSV exports, one module per group
of lists as in ``office.views.lists``: ``invoices``, ``work``, ``parties``; what they share is ``base``.

Every FilterSet takes the signed-in staff user's ``partner``: the customer and provider choices are that
partner's own (another partner's id is refused like any unknown one), and typed amounts are read in the
partner's currency. A bad amount or date is an error on the filter form in plain words; the list then shows
no rows rather than rows that look filtered but are not.

Callers import from those modules; nothing is re-exported here.
"""
