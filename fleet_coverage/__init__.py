"""Coverage and move-up: where the next ambulance should wait, from road travel times.

Pure core: :mod:`fleet_coverage.grid` (demand cells), :mod:`fleet_coverage.measure` (who
covers what), :mod:`fleet_coverage.mexclp` (the move-up optimisation),
:mod:`fleet_coverage.policy` (coverage cost of a dispatch). :mod:`fleet_coverage.reach` runs the
road searches on top of the public routing engine; :mod:`fleet_coverage.service` and
:mod:`fleet_coverage.models` are the database edge.
"""
