"""`harness coverage`: which contract operations and statuses the pacts, suites, schemathesis and kit exercised.

record   the plugin's side: every answer a mock gives during a pytest run, written down
report   the matrix (contract x operation x documented status x source) and the gate
page     the matrix as one HTML page (a table per contract)
"""
