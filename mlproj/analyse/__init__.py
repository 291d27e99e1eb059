"""Task outputs to the Summary (pure): one pooling of out-of-fold predictions, scores per
model, comparisons, uncertainty checks, test-set scores.
"""
