"""The relationship engine: stage models, assignment with evidence, history and reports,
health scorecard, bonds, value tiers and needs segments, levels per segment.

See docs/relationships.md.
"""
