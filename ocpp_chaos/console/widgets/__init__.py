"""The console's widgets: the sessions table, keyed tables, the frame log and detail."""
