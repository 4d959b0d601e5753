"""Server-rendered dashboard (Jinja2 + Plotly); see docs/dashboard.md to add a page."""
