"""Intake: county workbooks read safely, checked, accepted whole into the store or rejected with a report."""
