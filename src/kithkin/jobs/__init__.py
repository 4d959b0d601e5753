"""Work that runs beside requests: background jobs, the scheduler, housekeeping."""
