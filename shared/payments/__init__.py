"""Payment method switches, invoices paid again and the money at stake, as rows and figures."""
