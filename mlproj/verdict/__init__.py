"""judge(Summary) -> Verdict (pure): the finish line, the criteria, the reasons and the
exit code.
"""
