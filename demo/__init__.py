"""The demo data set: two partners with customers, providers, rates, requests, proformas and invoices.

``manage.py seed_demo`` loads it once (``demo.seed``) and ``manage.py demo_logins`` prints who can sign in
(``demo.people``). The two partners' data tables are ``demo.northwind`` and ``demo.bluefin``.
"""
