"""Scenarios: a fleet, fault rules, a timeline and expectations about the CSMS, run
headless with a verdict and reports (`ocpp-chaos run`)."""
