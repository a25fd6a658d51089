"""Virtual charge points: connector and EV state machines, chargers and fleets.

The connector and EV models are sans-IO (no sockets, no clock, no global random);
the charger drives them and owns the IO.
"""
