"""Rendering of the Summary and Verdict for people and machines: console tables,
JUnit XML, and (later) the HTML/Markdown report and figures.
"""
