"""artreport: report assisted-reproduction records to the Zhejiang provincial ART platform."""

__version__ = "0.1.0"
