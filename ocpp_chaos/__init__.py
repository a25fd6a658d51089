"""ocpp-chaos: chaos engineering for EV charging networks."""

__version__ = "0.1.0"
