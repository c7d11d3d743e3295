"""Diagnosis: turn analysis numbers into a health score and ranked findings."""
