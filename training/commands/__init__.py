"""The sub-commands of ``python -m training``: argument parsing and printing only, the work is elsewhere."""
