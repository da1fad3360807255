"""Partner office views, one module per area: dashboard, lists, documents (details and actions),
customers, reports, delivery (PDF and e-mail)."""
