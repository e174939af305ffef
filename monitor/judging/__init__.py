"""Judging at scale: the verdict cache (``cache``), the judges spread over worker
processes (``workers``), the cycle collector paced while calls wait (``gc_pacing``), and
every judge of the ensemble run together (``ensemble``)."""
