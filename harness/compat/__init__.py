"""`harness compat`: what a contract revision changes for its clients, and whom it breaks.

operations.compare_documents   every difference, classified breaking / warning / info
schemas.SchemaDiff             two schemas compared for one direction of the data
impact                         the pact interactions (and client methods) a revision breaks
gate                           each contract against a git ref; declared majors pass
"""
