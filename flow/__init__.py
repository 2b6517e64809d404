"""sqgen EDA flow: Yosys area flow (:mod:`flow.area`) and its CLI (``python -m flow``).

Layer: above :mod:`gen` (it synthesizes what the generators emit), below :mod:`studies`.
"""
