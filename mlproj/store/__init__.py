"""What lands on disk: atomic files, the project lock, run directories, model files
(skops, type-checked) and the test-use ledger.
"""
