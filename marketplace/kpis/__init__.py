"""The co-creation KPIs (the seeds' dashboard: participants, ideas generated, idea
conversion, satisfaction, loyalty; money and production beside them) and their targets.

Figures come from daily rollups that ``flask cron`` keeps (``rollup.roll_up``), never from
scanning votes and pledges per request; ``indicators`` computes each figure from them, one
function per indicator, and ``targets`` compares them with what operators aim for.
"""
