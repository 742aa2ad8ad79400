"""Jobs: long work started from the UI, run by a worker, watched while it runs."""
