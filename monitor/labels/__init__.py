"""Human labels: files in and out (``files``), and judges measured against them
(``calibration``)."""
