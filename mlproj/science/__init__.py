"""The statistics and scoring (pure, no files, YAML or console): metrics, corrected
statistics, uncertainty of predictions, power, significant digits.
"""
