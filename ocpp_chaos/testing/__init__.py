"""Test helpers shipped with the package: raw recording peers and ocpp-library chargers."""
