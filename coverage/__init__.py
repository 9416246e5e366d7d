"""Coverage and move-up: where the next ambulance should wait, from road travel times.

Pure core: :mod:`coverage.grid` (demand cells), :mod:`coverage.measure` (who covers what),
:mod:`coverage.mexclp` (the move-up optimisation), :mod:`coverage.policy` (coverage cost of a
dispatch). :mod:`coverage.reach` runs the road searches on top of the public routing engine;
:mod:`coverage.service` and :mod:`coverage.models` are the database edge.
"""
