"""REST API: one flask-smorest blueprint per area."""
