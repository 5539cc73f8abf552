"""The run report and its parts: reading a run folder (``run_files``), the report itself (``run``:
``load_run``, ``write_report``), the comparison with a baseline (``comparison``) and between two
searches' energy models (``compare``), and the plots (``plots``, ``correlate_plots``). Energy is
counted in ``energy/``, which imports nothing from here."""
