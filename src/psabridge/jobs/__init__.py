"""Jobs: syncs and reconciliations run by Dramatiq workers (or in process), schedules, change-driven
syncs and notifications."""
